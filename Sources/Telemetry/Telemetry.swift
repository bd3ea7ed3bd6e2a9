// Placeholder: this module's content arrives with its issue.
