from crm_workspace.cli import main

main()
