from safemil.cli import main

main()
