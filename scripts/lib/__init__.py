"""Code the scripts share (benchmark helpers, MNIST MLP nets, log parsing, the PTB models).

A script run as a file has scripts/ on sys.path, so it imports these as ``from lib import
bench_common``; pytest.ini puts scripts/ on the path for the tests.
"""
