"""The exchange fabric: mailboxes on a hub per CPAM, over SFTP or in memory."""
