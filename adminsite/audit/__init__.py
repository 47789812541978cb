"""The audit log: every change attempted through Org Desk, written before the upstream call and
sealed with its outcome (`recording`), kept append-only (`models`), read and restored from on the
audit pages (`views`) and, read-only, in Django's admin (`admin`)."""
