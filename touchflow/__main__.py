from touchflow.cli import main

main()
