#!/usr/bin/env python3
"""The pandas peer of `cartback import`: the same work on the same NDJSON file.

Work, as cartback does it:
  fold    parse every line, check types, drop duplicate event ids, order by time, and fold
          the events into carts per user (a new cart after each order): items added and
          removed, value, first/last activity, and the cart's state at the end of the log
          (active, abandoned after 30 minutes idle, purchased, recovered = ordered after an
          idle gap of 30 minutes or more, expired after 7 days).
  persist the same plus writing the events and the carts into a SQLite file.

Prints one JSON object with the seconds of each phase and the counts it found.
"""
import argparse
import json
import sqlite3
import time

import numpy as np
import pandas as pd

IDLE_MS = 30 * 60 * 1000
WINDOW_MS = 7 * 24 * 3600 * 1000


def fold(path):
    df = pd.read_json(path, lines=True, dtype={"user_id": str, "session_id": str})
    read = len(df)
    df = df.drop_duplicates(subset="id")
    # read_json turns a column named "timestamp" into datetimes (epoch milliseconds and RFC
    # 3339 alike, in pandas' own unit): back to epoch milliseconds, the unit of the timeouts.
    df["timestamp"] = (pd.to_datetime(df["timestamp"], utc=True, errors="raise")
                       .astype("datetime64[ms, UTC]").astype("int64"))
    df = df.sort_values(["timestamp", "id"], kind="stable")
    # Item lines: one row per (event, item), value = price x quantity.
    items = df[["id", "items"]].explode("items").dropna(subset=["items"])
    norm = pd.json_normalize(items["items"].tolist())
    norm.index = items.index
    line_value = norm["price"].fillna(0).astype("int64") * norm["quantity"].astype("int64")
    value = line_value.groupby(level=0).sum()
    df["value"] = value.reindex(df.index, fill_value=0)
    all_events = df
    cart_kinds = {"product_added", "product_removed", "cart_viewed", "checkout_started",
                  "coupon_entered"}  # a code typed at checkout is activity on the cart
    df = df[df["type"].isin(cart_kinds | {"order_completed"})].copy()
    df["is_order"] = df["type"].eq("order_completed")
    df["signed_value"] = np.where(df["type"].eq("product_removed"), -df["value"],
                                  np.where(df["type"].eq("product_added"), df["value"], 0))
    # A new cart starts after each order of the user.
    df["cart_seq"] = df.groupby("user_id")["is_order"].transform(
        lambda s: s.shift(fill_value=False).cumsum())
    df["gap"] = df.groupby(["user_id", "cart_seq"])["timestamp"].diff().fillna(0)
    df["idle_gap"] = df["gap"] >= IDLE_MS
    carts = df.groupby(["user_id", "cart_seq"]).agg(
        first=("timestamp", "min"),
        last=("timestamp", "max"),
        value=("signed_value", "sum"),
        adds=("type", lambda s: int((s == "product_added").sum())),
        ordered=("is_order", "any"),
        idle_before_order=("idle_gap", "any"),
    )
    end = int(all_events["timestamp"].max())  # the end of the log: its last event of any kind
    state = np.where(carts["ordered"] & carts["idle_before_order"], "recovered",
                     np.where(carts["ordered"], "purchased",
                              np.where(carts["last"] + IDLE_MS + WINDOW_MS <= end, "expired",
                                       np.where(carts["last"] + IDLE_MS <= end, "abandoned", "active"))))
    carts["state"] = state
    return all_events, carts, read


def main():
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--db")
    a = p.parse_args()
    t0 = time.perf_counter()
    events, carts, read = fold(a.file)
    t1 = time.perf_counter()
    out = {"read": read, "carts": int(len(carts)),
           "states": {k: int(v) for k, v in carts["state"].value_counts().items()},
           "fold_seconds": t1 - t0}
    if a.db:
        con = sqlite3.connect(a.db)
        con.execute("PRAGMA journal_mode=WAL")
        ev = events[["id", "timestamp", "type", "user_id"]].copy()
        ev["payload"] = events.drop(columns=["value"]).to_json(orient="records", lines=True).splitlines()
        ev.to_sql("events", con, if_exists="replace", index=False, chunksize=100_000)
        carts.reset_index().to_sql("carts", con, if_exists="replace", index=False)
        con.commit()
        con.close()
        out["persist_seconds"] = time.perf_counter() - t0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
