"""Source declarations and readers (SQL through SQLAlchemy, files through pyarrow)."""
