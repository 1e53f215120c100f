"""One module per tab of the page: its layout, its event wiring and the server functions behind its views."""
