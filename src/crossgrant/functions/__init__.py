"""Reference Lambda handlers for the seed systems, built on crossgrant.runtime.

thumbnailer   S3 ObjectCreated in A -> thumbnails in B's bucket and an item in B's table
archiver      processed records -> B's archive bucket, checksummed and written once
table_writer  items -> B's table, with conditional writes that make retries harmless

Each module has `handler(event, context)` and reads its settings from the environment.
Only the thumbnailer needs a package beyond boto3 (Pillow); this package imports none.
"""
