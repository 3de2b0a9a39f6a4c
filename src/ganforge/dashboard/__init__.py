"""The live dashboard (`ganforge dashboard`): the top layer, below only cli.py. Optional
dependencies (starlette, uvicorn) are imported by its server only: `ganforge[dashboard]`."""
