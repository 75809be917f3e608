from edgecc.examples import main

main()
