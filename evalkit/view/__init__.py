"""``evalkit view``: a local Streamlit app over the compares under a folder. Only app.py
imports streamlit; index.py, compare.py and flips.py are plain functions the tests call."""
