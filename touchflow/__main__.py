from touchflow.cli.main import main

main()
