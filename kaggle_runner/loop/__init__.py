"""The run loop: push, watch, outputs, submit, sweeps and quota, with the packaging, bundles and bootstrap a push
needs and the helpers carried into kernels. Works through a Session (project.py)."""
