"""Kinflow's orchestration core: deploys BPMN versions, runs cases and projects their tasks.

A library with no Flask import; the web app and the command line call it with a session.
"""
