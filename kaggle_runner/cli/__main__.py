"""`python -m kaggle_runner.cli`: the same as the `kr` console script.
Tests run kr this way so that they use the interpreter of the environment under test."""

from kaggle_runner.cli import main

main()
