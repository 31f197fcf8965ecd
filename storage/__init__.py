"""Data at rest: models, sessions, encryption of what identifies a person, migrations."""
