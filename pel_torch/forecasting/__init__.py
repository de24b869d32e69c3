"""Time-series forecasting for the engine: competition metrics, statistical forecasters, rolling-origin windows.

Nothing here knows what a series counts (plays of a genre, tourists, sales): a task supplies the panel.
"""
