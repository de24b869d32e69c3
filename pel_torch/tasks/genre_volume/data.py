"""Genre volume: how many ratings each genre drew per day or week, from the ratings task's MovieLens events.

A demo of the forecasting mechanics on real events (people rating films on a website in 1997-98),
not a claim about viewing demand: a film with several genres counts once in each.
"""

import pandas as pd

from pel_torch.data.movielens import load_movielens
from pel_torch.data.panels import Panel, from_events
from pel_torch.errors import DataError


def genre_panel(freq: str = "D", path=None) -> Panel:
    """One series per genre of the GroupLens folder at ``path`` (None: the embedded ML-100K)."""
    data = load_movielens(path)
    if data.items is None or "genres" not in data.items:
        raise DataError(f"{path or 'the embedded ML-100K'}: its films have no genres to count ratings by")
    ratings = data.ratings.dropna(subset=["timestamp"])
    events = pd.DataFrame({"timestamp": pd.to_datetime(ratings["timestamp"], unit="s"), "item": ratings["item"].to_numpy()})
    events["categories"] = events["item"].map(data.items.drop_duplicates("item").set_index("item")["genres"])
    return from_events(events, freq, f"{path or 'the embedded ML-100K'}: ratings per genre")
