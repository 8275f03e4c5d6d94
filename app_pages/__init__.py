"""Pages of the Streamlit what-if explorer (see app_streamlit.py); ``shared`` holds the cached library calls."""
