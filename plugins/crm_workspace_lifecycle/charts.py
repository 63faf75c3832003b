"""The lifecycle page's Bokeh charts: time in stage, cohorts, flow, journey.

Stages and functions are stored as words ("marketing_qualified"); the charts keep those words
as their factors (what the data sources hold) and show them as people read them on the axes,
in the hover and in the journey's labels.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from bokeh.models import ColumnDataSource, HoverTool, LinearColorMapper
from bokeh.palettes import Blues9
from bokeh.plotting import figure

from crm_workspace.web.display import exact, label

FUNCTION_COLORS = {"marketing": "#1f77b4", "sales": "#ff7f0e", "service": "#2ca02c"}
DIRECTION_COLORS = {
    "entry": "#9e9e9e",
    "forward": "#4caf50",
    "backward": "#ff9800",
    "churn": "#e53935",
    "return": "#8e24aa",
}


def word_axis(axis, words) -> None:
    """Show a categorical axis's stored words as people read them ("marketing_qualified" -> "Marketing
    qualified"): the factors stay the stored words the data sources use, only their labels change."""
    axis.major_label_overrides = {str(w): label(w) for w in words if w is not None and w != label(w)}


def time_figure(frame):
    stages = list(frame["stage"])
    source = ColumnDataSource(
        {
            "stage": stages,
            "stage_label": [label(s) for s in stages],
            "median": list(frame["median_days"]),
            "p90": list(frame["p90_days"]),
            "stays": list(frame["stays"]),
        }
    )
    fig = figure(
        y_range=list(reversed(stages)) or ["-"],
        height=40 * max(len(stages), 1) + 80,
        sizing_mode="stretch_width",
        title="Days in stage: median (dark) and p90",
        toolbar_location=None,
        tools="",
    )
    fig.hbar(y="stage", right="p90", height=0.7, source=source, color="#c6dbef", legend_label="p90")
    fig.hbar(y="stage", right="median", height=0.4, source=source, color="#08519c", legend_label="median")
    fig.add_tools(
        HoverTool(
            tooltips=[("Stage", "@stage_label"), ("Median days", "@median"), ("p90 days", "@p90"), ("Stays", "@stays")]
        )
    )
    word_axis(fig.yaxis, stages)
    fig.legend.location = "bottom_right"
    return fig


def heatmap_figure(frame, x: str, y: str, value: str, text: str, title: str, *, x_range, y_range, colors=None):
    source = ColumnDataSource(frame)
    fig = figure(
        x_range=x_range or ["-"],
        y_range=y_range or ["-"],
        height=30 * max(len(y_range), 1) + 120,
        sizing_mode="stretch_width",
        title=title,
        toolbar_location=None,
        tools="",
    )
    if colors:
        fig.rect(x, y, 0.95, 0.95, source=source, fill_color="color", fill_alpha="alpha", line_color=None)
    else:
        mapper = LinearColorMapper(palette=list(reversed(Blues9)), low=0, high=1)
        fig.rect(x, y, 0.95, 0.95, source=source, fill_color={"field": value, "transform": mapper}, line_color=None)
    fig.text(x, y, text=text, source=source, text_align="center", text_baseline="middle", text_font_size="9pt")
    fig.xaxis.major_label_orientation = 0.8
    word_axis(fig.xaxis, x_range)
    word_axis(fig.yaxis, y_range)
    fig.grid.visible = False
    return fig


def cohort_figure(frame, stages):
    records = []
    for _, row in frame.iterrows():
        for stage in stages:
            share = row[stage]
            records.append({"cohort": row["cohort"], "stage": stage, "share": share, "label": f"{100 * share:.0f}%"})
    long = pd.DataFrame(records, columns=["cohort", "stage", "share", "label"])
    return heatmap_figure(
        long,
        "stage",
        "cohort",
        "share",
        "label",
        "Cohorts: share of each month's entrants reaching a stage",
        x_range=stages,
        y_range=list(reversed(frame["cohort"].tolist())),
    )


def flow_figure(frame, stages):
    frame = frame.copy()
    top = max(frame["moves"].max() if len(frame) else 1, 1)
    frame["color"] = [DIRECTION_COLORS[d] for d in frame["direction"]]
    frame["alpha"] = [0.25 + 0.75 * (m / top) ** 0.5 for m in frame["moves"]]
    frame["label"] = [f"{m:,}" for m in frame["moves"]]
    return heatmap_figure(
        frame,
        "to_stage",
        "from_stage",
        "moves",
        "label",
        "Flow: moves from (rows) → to (columns); orange = backwards, red = churn",
        x_range=list(stages),
        y_range=list(reversed(["(new)", *stages])),
        colors=True,
    )


def _move_words(before, after, detail: str) -> str:
    """A stage change in words ("Lead → Marketing qualified"), with the journey's flag note if any."""
    flag = detail[detail.find(" [flagged:") :] if " [flagged:" in str(detail) else ""
    return f"{label(before) or '(new)'} → {label(after)}{flag}"


def journey_in_words(frame: pd.DataFrame) -> pd.DataFrame:
    """The journey (``lifecycle.journey``) with each stage change's ``detail`` in words, for the chart and table."""
    if not len(frame):
        return frame
    moves = zip(frame["type"], frame["from_stage"], frame["stage"], frame["detail"], strict=True)
    return frame.assign(
        detail=[
            _move_words(before, after, detail) if kind == "stage" else detail for kind, before, after, detail in moves
        ]
    )


def journey_figure(frame):
    fig = figure(
        x_axis_type="datetime",
        y_range=["service", "sales", "marketing"],
        height=260,
        sizing_mode="stretch_width",
        title="Journey: stage changes (diamonds) and touchpoints (circles) by function",
        toolbar_location=None,
        tools="",
    )
    word_axis(fig.yaxis, ["service", "sales", "marketing"])
    if len(frame):
        moved = frame["type"] == "stage"
        data = journey_in_words(frame).assign(
            when=[datetime.fromisoformat(a.replace("Z", "+00:00")) for a in frame["at"]],
            at=[exact(a) for a in frame["at"]],
            color=[FUNCTION_COLORS.get(f, "#999") for f in frame["function"]],
            stage=[label(s) for s in frame["stage"]],
        )
        stages = data[moved]
        touches = data[~moved]
        fig.scatter("when", "function", source=ColumnDataSource(stages), marker="diamond", size=16, color="color")
        fig.text(
            "when",
            "function",
            text="stage",
            source=ColumnDataSource(stages),
            y_offset=-12,
            text_font_size="8pt",
            angle=0.5,
        )
        fig.scatter(
            "when", "function", source=ColumnDataSource(touches), marker="circle", size=8, color="color", alpha=0.6
        )
        fig.add_tools(HoverTool(tooltips=[("When", "@at"), ("What", "@detail"), ("Stage", "@stage"), ("By", "@by")]))
    return fig
