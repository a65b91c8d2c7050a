"""The web app: a Gradio interface over `elpips` (distances) and `geometry` (averages, geodesics).

Launch it with ``elpips-app`` or ``python -m app``; build it in Python with `app.ui.build_app`.
"""
