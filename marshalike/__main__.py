from marshalike.cli.main import main

main()
