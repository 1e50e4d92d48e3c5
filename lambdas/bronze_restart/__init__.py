"""Auto-restart of the bronze Structured Streaming job on EMR Serverless."""
