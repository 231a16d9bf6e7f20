"""The web endpoints: today the one-click links of alerts; the inbox lands here."""
