"""planner's what-if explorer (Streamlit). A thin layer: widgets -> library calls -> charts; no maths.

Run with `planner app [--store DIR]` or `PLANNER_STORE=DIR streamlit run app_streamlit.py`.
"""

import streamlit as st

st.set_page_config(page_title="planner", layout="wide")
st.navigation([
    st.Page("app_pages/planner.py", title="Capacity planner", url_path="planner", default=True),
    st.Page("app_pages/serverless.py", title="Serverless", url_path="serverless"),
    st.Page("app_pages/multi_model.py", title="Multi-model", url_path="multi-model"),
    st.Page("app_pages/compare.py", title="Compare & export", url_path="compare"),
    st.Page("app_pages/llm.py", title="LLM endpoints", url_path="llm"),
    st.Page("app_pages/runs.py", title="Runs", url_path="runs"),
    st.Page("app_pages/upload.py", title="Upload", url_path="upload"),
]).run()
