import numpy as np
import pytest

from pel_torch.tasks.box_office.splits import make_split
from pel_torch.errors import PelError


def test_random_split_is_seeded_disjoint_and_keeps_held_out_films_from_pretraining(films):
    split = make_split(films, "random", seed=7)
    again = make_split(films, "random", seed=7)
    other = make_split(films, "random", seed=8)
    np.testing.assert_array_equal(split.test, again.test)
    assert not np.array_equal(split.test, other.test)
    parts = [split.train, split.val, split.test]
    assert sum(map(len, parts)) == films["revenue"].notna().sum()
    assert len(np.unique(np.concatenate(parts))) == sum(map(len, parts))
    assert not np.intersect1d(split.pretrain, np.union1d(split.val, split.test)).size
    rated = films[["rating", "votes"]].notna().any(axis=1).to_numpy()
    assert len(split.pretrain) == rated.sum() - rated[np.union1d(split.val, split.test)].sum()


def test_temporal_split_orders_periods_and_pretrains_only_before_validation(films):
    split = make_split(films, "temporal", val_from=2004, test_from=2010)
    years = films["year"].to_numpy(dtype=float)
    assert years[split.train].max() < 2004 <= years[split.val].min()
    assert years[split.val].max() < 2010 <= years[split.test].min()
    assert years[split.pretrain].max() < 2004
    assert not np.intersect1d(split.history, np.union1d(split.val, split.test)).size
    assert len(split.pretrain) > 5 * len(split.train)


def test_temporal_split_defaults_to_the_latest_fifth_for_test(films):
    split = make_split(films, "temporal")
    share = len(split.test) / (len(split.train) + len(split.val) + len(split.test))
    assert 0.15 < share < 0.25 and split.val_from < split.test_from


@pytest.mark.parametrize("kwargs, message", [
    ({"kind": "shuffled"}, "unknown split 'shuffled'"),
    ({"kind": "temporal", "val_from": 2010, "test_from": 2004}, r"needs split.val_from < split.test_from, got 2010 and 2004"),
    ({"kind": "temporal", "val_from": 1900, "test_from": 1930}, "leaves no train films"),
    ({"kind": "random", "val_fraction": 0.6, "test_fraction": 0.5}, "must be in"),
])
def test_bad_split_settings(films, kwargs, message):
    with pytest.raises(PelError, match=message):
        make_split(films, **kwargs)
