from gis.cli.app import main

main()
