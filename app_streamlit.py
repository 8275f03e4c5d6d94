"""planner's what-if explorer (Streamlit). A thin layer: widgets -> library calls -> charts; no maths.

Run with `planner app` or `streamlit run app_streamlit.py`.
"""

import streamlit as st

st.set_page_config(page_title="planner", layout="wide")
st.title("planner — inference capacity what-if explorer")
st.info("The explorer's pages arrive with the recommender; see `planner recommend --help` meanwhile.")
