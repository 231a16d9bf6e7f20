"""The weekly ORM digest for senior leadership: figures, charts, HTML email, PDF, delivery."""
