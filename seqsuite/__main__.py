from seqsuite.cli import main

main()
