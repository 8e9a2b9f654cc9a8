"""The dispatcher: decides what is dialled next and keeps the database state machine moving."""
