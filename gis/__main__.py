from gis.cli.main import main

main()
