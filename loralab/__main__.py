from loralab.cli import main

main()
