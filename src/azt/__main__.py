from azt.cli.main import main

main()
