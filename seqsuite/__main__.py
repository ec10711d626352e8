from seqsuite.entry import main

main()
