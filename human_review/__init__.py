"""Blind side-by-side human review of model responses.

``build`` turns run directories into a study plan, ``store`` keeps studies, raters,
assignments and votes in a SQL database (SQLite or PostgreSQL, through SQLAlchemy),
``assignment`` decides sides and the order of hidden gold and repeat items, ``analysis``
turns votes into verdicts, and ``app`` is the Streamlit front end (the only module that
imports streamlit). Nothing here runs at import time.
"""
