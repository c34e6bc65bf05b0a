from gendef_cli.main import main

main()
