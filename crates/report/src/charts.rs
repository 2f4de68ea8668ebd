//! The dashboard's charts: owns turning the parts of a [`Report`] into standalone inline SVG
//! (no XML prolog, to paste inside HTML) with plotters' SVG backend and no fonts (the text
//! elements name `sans-serif` and the browser lays them out).
//!
//! Four charts, each a function of the part of the report it reads and a pixel size:
//! [`lift_svg`] (treated vs holdout recovery rate with 95 % intervals),
//! [`daily_recoveries_svg`], [`message_funnel_svg`] and [`daily_volume_svg`];
//! [`dashboard_charts`] draws all four at the dashboard's sizes. Every chart draws a small
//! "no data yet" SVG instead of an empty or degenerate plot (plotters misbehaves on empty
//! ranges), and drawing errors come back as [`ChartError`], never as panics.
//!
//! Colours are one palette across the dashboard: the treated group (shoppers outside the
//! holdout) is [`TREATED`] blue, the holdout [`HOLDOUT`] grey.

use crate::report::{DayRow, Lift, MessageKpis, Report};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::collections::BTreeMap;
use std::error::Error;

/// The treated group (every abandonment of shoppers outside the holdout).
pub const TREATED: RGBColor = RGBColor(0x25, 0x63, 0xEB);
/// The holdout group (tracked, never contacted).
pub const HOLDOUT: RGBColor = RGBColor(0x9C, 0xA3, 0xAF);
/// The 95 % interval whiskers of the lift chart.
pub const ERROR_BAR: RGBColor = RGBColor(0x11, 0x18, 0x27);
/// The message funnel, from sent (lightest) to attributed (darkest): shades of [`TREATED`].
pub const FUNNEL: [RGBColor; 4] = [
    RGBColor(0xBF, 0xDB, 0xFE),
    RGBColor(0x93, 0xC5, 0xFD),
    RGBColor(0x3B, 0x82, 0xF6),
    RGBColor(0x1E, 0x3A, 0x8A),
];
/// Carts per day in the volume chart.
pub const CARTS: RGBColor = RGBColor(0x0F, 0x76, 0x6E);
/// Messages sent per day in the volume chart.
pub const MESSAGES: RGBColor = RGBColor(0xD9, 0x77, 0x06);
/// Text, axis labels.
const INK: RGBColor = RGBColor(0x1F, 0x29, 0x37);
/// Secondary text ("no data yet").
const MUTED: RGBColor = RGBColor(0x6B, 0x72, 0x80);
/// Axes.
const AXIS: RGBColor = RGBColor(0x4B, 0x55, 0x63);
/// Horizontal grid lines.
const GRID: RGBColor = RGBColor(0xE5, 0xE7, 0xEB);

/// The dashboard's chart size: wide charts.
pub const WIDE: (u32, u32) = (760, 320);
/// The dashboard's chart size: the lift chart, next to the headline figures.
pub const NARROW: (u32, u32) = (420, 320);
/// Charts are drawn at least this large (the axes' label areas need the room).
pub const MIN_SIZE: (u32, u32) = (240, 160);

const FONT: &str = "sans-serif";

/// A chart that plotters could not draw.
#[derive(Debug, thiserror::Error)]
#[error("the {chart} chart could not be drawn: {message}")]
pub struct ChartError {
    /// Which chart (`lift`, `daily recoveries`, `message funnel`, `daily volume`).
    pub chart: &'static str,
    pub message: String,
}

/// The four dashboard charts as inline SVG.
#[derive(Clone, Debug, PartialEq)]
pub struct DashboardCharts {
    pub lift: String,
    pub daily_recoveries: String,
    pub message_funnel: String,
    pub daily_volume: String,
}

/// All four charts of `report` at the dashboard's sizes.
pub fn dashboard_charts(report: &Report) -> Result<DashboardCharts, ChartError> {
    Ok(DashboardCharts {
        lift: lift_svg(&report.lift, NARROW)?,
        daily_recoveries: daily_recoveries_svg(&report.daily, WIDE)?,
        message_funnel: message_funnel_svg(&report.messages_by_action, WIDE)?,
        daily_volume: daily_volume_svg(&report.daily, WIDE)?,
    })
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Drawn = Result<(), Box<dyn Error>>;

/// The recovery rate of the treated group and of the holdout, as two bars with their 95 %
/// Wilson intervals, labelled with the percentages.
pub fn lift_svg(lift: &Lift, size: (u32, u32)) -> Result<String, ChartError> {
    const CHART: &str = "lift";
    const TITLE: &str = "Recovery rate, treated vs holdout (95 % CI)";
    let groups = [
        ("treated", &lift.treated, TREATED),
        ("holdout", &lift.holdout, HOLDOUT),
    ];
    let bars: Vec<_> = groups
        .iter()
        .enumerate()
        .filter_map(|(i, (_, group, colour))| {
            let e = group.recovery_rate?;
            let finite = [e.value, e.ci_low, e.ci_high].iter().all(|v| v.is_finite());
            finite.then(|| {
                let value = e.value.clamp(0.0, 1.0);
                let low = e.ci_low.clamp(0.0, value);
                let high = e.ci_high.clamp(value, 1.0);
                (i as f64, value, low, high, *colour)
            })
        })
        .collect();
    if bars.is_empty() {
        return Ok(no_data_svg(TITLE, size));
    }
    let top = bars.iter().map(|b| b.3).fold(0.0, f64::max);
    // Room above the highest whisker for its label.
    let y_max = nice_ceiling(top * 1.25).min(1.1);
    let labels: Vec<String> = groups
        .iter()
        .map(|(name, group, _)| format!("{name} (n = {})", group.settled))
        .collect();
    render(CHART, TITLE, size, |area| {
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .margin_right(20)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d(Categories::new(2, vec![0.0, 1.0]), 0f64..y_max)?;
        let x_label = |x: &f64| category(&labels, *x);
        let y_label = |y: &f64| percent_tick(*y, y_max);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(0)
            .y_labels(6)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .y_desc("recovered / settled abandonments")
            .bold_line_style(GRID.stroke_width(1))
            .axis_style(AXIS.stroke_width(1))
            .label_style(label_font(12))
            .axis_desc_style(label_font(12))
            .draw()?;
        for &(x, value, _, _, colour) in &bars {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x - 0.28, 0.0), (x + 0.28, value)],
                colour.filled(),
            )))?;
        }
        let whisker = ERROR_BAR.stroke_width(2);
        for &(x, value, low, high, _) in &bars {
            chart.draw_series([
                PathElement::new(vec![(x, low), (x, high)], whisker),
                PathElement::new(vec![(x - 0.07, low), (x + 0.07, low)], whisker),
                PathElement::new(vec![(x - 0.07, high), (x + 0.07, high)], whisker),
            ])?;
            let label = format!(
                "{:.1} % [{:.1}, {:.1}]",
                value * 100.0,
                low * 100.0,
                high * 100.0
            );
            let style = label_font(12).pos(Pos::new(HPos::Center, VPos::Bottom));
            chart.draw_series(std::iter::once(
                EmptyElement::at((x, high)) + Text::new(label, (0, -6), style),
            ))?;
        }
        for (i, (name, group, _)) in groups.iter().enumerate() {
            if group.recovery_rate.is_none() {
                let text = if *name == "holdout" {
                    "no holdout yet"
                } else {
                    "nothing settled yet"
                };
                let style = label_font(12)
                    .color(&MUTED)
                    .pos(Pos::new(HPos::Center, VPos::Bottom));
                chart.draw_series(std::iter::once(
                    EmptyElement::at((i as f64, 0.0)) + Text::new(text, (0, -6), style),
                ))?;
            }
        }
        Ok(())
    })
}

/// Per UTC day, the recovery rate of the treated group's and of the holdout's abandonments
/// (recovered / settled abandonments decided that day); a day without settled abandonments
/// of a group is left out of that group's line.
pub fn daily_recoveries_svg(days: &[DayRow], size: (u32, u32)) -> Result<String, ChartError> {
    const CHART: &str = "daily recoveries";
    const TITLE: &str = "Recovery rate by day of the first decision (UTC)";
    let rate = |recovered: u64, abandonments: u64| {
        (abandonments > 0).then(|| (recovered as f64 / abandonments as f64).clamp(0.0, 1.0))
    };
    let series = |f: &dyn Fn(&DayRow) -> Option<f64>| -> Vec<(f64, f64)> {
        days.iter()
            .enumerate()
            .filter_map(|(i, d)| f(d).map(|r| (i as f64, r)))
            .collect()
    };
    let treated = series(&|d| rate(d.treated_recovered, d.treated_settled));
    let holdout = series(&|d| rate(d.holdout_recovered, d.holdout_settled));
    if treated.is_empty() && holdout.is_empty() {
        return Ok(no_data_svg(TITLE, size));
    }
    let top = treated
        .iter()
        .chain(&holdout)
        .map(|p| p.1)
        .fold(0.0, f64::max);
    let y_max = nice_ceiling(top * 1.1).min(1.0);
    let names: Vec<&str> = days.iter().map(|d| d.day.as_str()).collect();
    let dot = dot_radius(days.len());
    render(CHART, TITLE, size, |area| {
        let (legend, plot) = area.split_vertically(24);
        draw_legend(
            &legend,
            &[
                ("treated", TREATED, Swatch::Line),
                ("holdout", HOLDOUT, Swatch::Line),
            ],
        )?;
        let y_label = |y: &f64| percent_tick(*y, y_max);
        let mut chart = day_chart(
            &plot,
            &names,
            (y_max, 6),
            &y_label,
            "recovered / settled abandonments",
        )?;
        for (points, colour) in [(&holdout, HOLDOUT), (&treated, TREATED)] {
            draw_dotted_line(&mut chart, points, colour, dot)?;
        }
        Ok(())
    })
}

/// Per action, grouped bars of its messages sent, opened, clicked and attributed (counts).
pub fn message_funnel_svg(
    by_action: &BTreeMap<String, MessageKpis>,
    size: (u32, u32),
) -> Result<String, ChartError> {
    const CHART: &str = "message funnel";
    const TITLE: &str = "Messages per action: sent, opened, clicked, attributed";
    const STAGES: [&str; 4] = ["sent", "opened", "clicked", "attributed"];
    let rows: Vec<(&str, [u64; 4])> = by_action
        .iter()
        .map(|(action, k)| (action.as_str(), [k.sent, k.opened, k.clicked, k.attributed]))
        .collect();
    let top = rows.iter().flat_map(|r| r.1).max().unwrap_or(0);
    if top == 0 {
        return Ok(no_data_svg(TITLE, size));
    }
    let y_max = nice_ceiling(top as f64 * 1.15);
    render(CHART, TITLE, size, |area| {
        let (legend, plot) = area.split_vertically(24);
        let items: Vec<_> = STAGES
            .iter()
            .zip(FUNNEL)
            .map(|(stage, colour)| (*stage, colour, Swatch::Bar))
            .collect();
        draw_legend(&legend, &items)?;
        // Action names shortened to what fits under their group of bars.
        let group_px = f64::from(plot.dim_in_pixel().0.saturating_sub(90)) / rows.len() as f64;
        let max_chars = ((group_px / 7.0) as usize).max(4);
        let names: Vec<String> = rows.iter().map(|r| shorten(r.0, max_chars)).collect();
        let keys = (0..rows.len()).map(|i| i as f64).collect();
        let mut chart = ChartBuilder::on(&plot)
            .margin(10)
            .margin_right(20)
            .x_label_area_size(28)
            .y_label_area_size(56)
            .build_cartesian_2d(Categories::new(rows.len(), keys), 0f64..y_max)?;
        let x_label = |x: &f64| category(&names, *x);
        let y_label = |y: &f64| count_tick(*y);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(0)
            .y_labels(count_labels(y_max))
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .y_desc("messages")
            .bold_line_style(GRID.stroke_width(1))
            .axis_style(AXIS.stroke_width(1))
            .label_style(label_font(12))
            .axis_desc_style(label_font(12))
            .draw()?;
        let width = 0.8 / STAGES.len() as f64;
        let counts_fit = group_px / STAGES.len() as f64 >= 26.0;
        for (i, (_, counts)) in rows.iter().enumerate() {
            for (j, (&count, colour)) in counts.iter().zip(FUNNEL).enumerate() {
                let x0 = i as f64 - 0.4 + j as f64 * width;
                let x1 = x0 + width * 0.9;
                let y = count as f64;
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x0, 0.0), (x1, y)],
                    colour.filled(),
                )))?;
                if counts_fit {
                    let style = label_font(10).pos(Pos::new(HPos::Center, VPos::Bottom));
                    chart.draw_series(std::iter::once(
                        EmptyElement::at(((x0 + x1) / 2.0, y))
                            + Text::new(count.to_string(), (0, -3), style),
                    ))?;
                }
            }
        }
        Ok(())
    })
}

/// Per UTC day: the abandonments decided that day as stacked bars (treated below, holdout
/// above), carts created and messages sent as lines.
pub fn daily_volume_svg(days: &[DayRow], size: (u32, u32)) -> Result<String, ChartError> {
    const CHART: &str = "daily volume";
    const TITLE: &str = "Carts, abandonments and messages by day (UTC)";
    let top = days
        .iter()
        .map(|d| {
            d.carts
                .max(d.treated_abandonments + d.holdout_abandonments)
                .max(d.messages_sent)
        })
        .max()
        .unwrap_or(0);
    if top == 0 {
        return Ok(no_data_svg(TITLE, size));
    }
    let y_max = nice_ceiling(top as f64 * 1.1);
    let names: Vec<&str> = days.iter().map(|d| d.day.as_str()).collect();
    let dot = dot_radius(days.len());
    render(CHART, TITLE, size, |area| {
        let (legend, plot) = area.split_vertically(24);
        draw_legend(
            &legend,
            &[
                ("treated abandonments", TREATED, Swatch::Bar),
                ("holdout abandonments", HOLDOUT, Swatch::Bar),
                ("carts", CARTS, Swatch::Line),
                ("messages sent", MESSAGES, Swatch::Line),
            ],
        )?;
        let y_label = |y: &f64| count_tick(*y);
        let mut chart = day_chart(&plot, &names, (y_max, count_labels(y_max)), &y_label, "")?;
        let half = 0.35;
        for (i, d) in days.iter().enumerate() {
            let x = i as f64;
            let treated = d.treated_abandonments as f64;
            let both = treated + d.holdout_abandonments as f64;
            if d.treated_abandonments > 0 {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x - half, 0.0), (x + half, treated)],
                    TREATED.filled(),
                )))?;
            }
            if d.holdout_abandonments > 0 {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x - half, treated), (x + half, both)],
                    HOLDOUT.filled(),
                )))?;
            }
        }
        let line = |f: fn(&DayRow) -> u64| -> Vec<(f64, f64)> {
            days.iter()
                .enumerate()
                .map(|(i, d)| (i as f64, f(d) as f64))
                .collect()
        };
        for (points, colour) in [
            (line(|d| d.carts), CARTS),
            (line(|d| d.messages_sent), MESSAGES),
        ] {
            draw_dotted_line(&mut chart, &points, colour, dot)?;
        }
        Ok(())
    })
}

/// The placeholder drawn instead of a chart without data: a framed box with the chart's
/// title and "no data yet".
pub fn no_data_svg(title: &str, size: (u32, u32)) -> String {
    let (w, h) = clamp_size(size);
    let title = xml_escape(title);
    format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{title}: no data yet\" width=\"{w}\" \
         height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\">\n\
         <rect x=\"0.5\" y=\"0.5\" width=\"{bw}\" height=\"{bh}\" fill=\"#FFFFFF\" \
         stroke=\"#D1D5DB\"/>\n\
         <text x=\"{cx}\" y=\"24\" text-anchor=\"middle\" font-family=\"{FONT}\" \
         font-size=\"15\" fill=\"{ink}\">{title}</text>\n\
         <text x=\"{cx}\" y=\"{cy}\" text-anchor=\"middle\" font-family=\"{FONT}\" \
         font-size=\"14\" fill=\"{muted}\">no data yet</text>\n</svg>\n",
        bw = w - 1,
        bh = h - 1,
        cx = w / 2,
        cy = h / 2,
        ink = hex(INK),
        muted = hex(MUTED),
    )
}

/// Draws a chart: a white canvas, the title, then `draw` on the area below it; the SVG
/// root gets a class and an accessible label.
fn render(
    chart: &'static str,
    title: &str,
    size: (u32, u32),
    draw: impl FnOnce(&Area<'_>) -> Drawn,
) -> Result<String, ChartError> {
    let size = clamp_size(size);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        let drawn = (|| -> Drawn {
            root.fill(&WHITE)?;
            let body = root.titled(title, label_font(15))?;
            draw(&body)?;
            root.present()?;
            Ok(())
        })();
        drawn.map_err(|e| ChartError {
            chart,
            message: e.to_string(),
        })?;
    }
    let attributes = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{}\" ",
        xml_escape(title)
    );
    Ok(svg.replacen("<svg ", &attributes, 1))
}

/// A chart with days on the x axis (0, 1, …, one per row of the report's `daily`).
type DayChart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<Categories, RangedCoordf64>>;

/// The frame the two daily charts share, drawn on `plot`: the days on x (labelled sparsely
/// when there are many), `0..y_max` on y with `y_labels` labels formatted by `y_label` and
/// described by `y_desc` (none when empty), horizontal grid lines only.
fn day_chart<'a, 'b>(
    plot: &'a Area<'b>,
    names: &[&str],
    (y_max, y_labels): (f64, usize),
    y_label: &dyn Fn(&f64) -> String,
    y_desc: &str,
) -> Result<DayChart<'a, 'b>, Box<dyn Error>> {
    let keys = day_ticks(names.len(), plot.dim_in_pixel().0);
    let mut chart = ChartBuilder::on(plot)
        .margin(10)
        .margin_right(24)
        .x_label_area_size(28)
        .y_label_area_size(56)
        .build_cartesian_2d(Categories::new(names.len(), keys), 0f64..y_max)?;
    let x_label = |x: &f64| category(names, *x);
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh()
        .max_light_lines(0)
        .y_labels(y_labels)
        .x_label_formatter(&x_label)
        .y_label_formatter(y_label)
        .bold_line_style(GRID.stroke_width(1))
        .axis_style(AXIS.stroke_width(1))
        .label_style(label_font(12))
        .axis_desc_style(label_font(12));
    if !y_desc.is_empty() {
        mesh.y_desc(y_desc);
    }
    mesh.draw()?;
    Ok(chart)
}

/// A line through `points` with a dot on each.
fn draw_dotted_line(
    chart: &mut DayChart<'_, '_>,
    points: &[(f64, f64)],
    colour: RGBColor,
    dot: u32,
) -> Drawn {
    chart.draw_series(LineSeries::new(
        points.iter().copied(),
        colour.stroke_width(2),
    ))?;
    chart.draw_series(points.iter().map(|&p| Circle::new(p, dot, colour.filled())))?;
    Ok(())
}

#[derive(Clone, Copy)]
enum Swatch {
    Bar,
    Line,
}

/// One row of legend entries, left to right.
fn draw_legend(area: &Area<'_>, items: &[(&str, RGBColor, Swatch)]) -> Drawn {
    let y = area.dim_in_pixel().1 as i32 / 2;
    let mut x = 70;
    for &(label, colour, swatch) in items {
        match swatch {
            Swatch::Bar => area.draw(&Rectangle::new(
                [(x, y - 5), (x + 12, y + 5)],
                colour.filled(),
            ))?,
            Swatch::Line => area.draw(&PathElement::new(
                vec![(x - 2, y), (x + 14, y)],
                colour.stroke_width(2),
            ))?,
        }
        let style = label_font(12).pos(Pos::new(HPos::Left, VPos::Center));
        area.draw(&Text::new(label.to_owned(), (x + 18, y), style))?;
        x += 18 + 7 * label.chars().count() as i32 + 20;
    }
    Ok(())
}

/// Text of `px` CSS pixels (plotters' SVG backend writes `font-size` as size / 1.24).
fn label_font(px: u32) -> TextStyle<'static> {
    (FONT, f64::from(px) * 1.24).into_font().color(&INK)
}

/// An x axis of `n` categories (days, groups, actions) at 0, 1, …, n − 1, each half a unit
/// wide on both sides, with ticks at `keys` only. (plotters' own `with_key_points` on an f64
/// range has no default label formatter, so it cannot take `x_label_formatter`.)
struct Categories {
    end: f64,
    keys: Vec<f64>,
}

impl Categories {
    const START: f64 = -0.5;

    fn new(n: usize, keys: Vec<f64>) -> Categories {
        Categories {
            end: n.max(1) as f64 - 0.5,
            keys,
        }
    }
}

impl Ranged for Categories {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, (from, to): (i32, i32)) -> i32 {
        let t = (value - Self::START) / (self.end - Self::START);
        (f64::from(from) + t * f64::from(to - from)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.keys.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        Self::START..self.end
    }
}

/// The days to label: all of them when they fit, else every k-th.
fn day_ticks(days: usize, width_px: u32) -> Vec<f64> {
    // A `YYYY-MM-DD` label is about 70 px wide at 12 px.
    let fit = (width_px.saturating_sub(90) / 90).max(1) as usize;
    let step = days.div_ceil(fit).max(1);
    (0..days).step_by(step).map(|i| i as f64).collect()
}

/// The label of the category at `x` (a key point, so a whole number).
fn category<S: AsRef<str>>(labels: &[S], x: f64) -> String {
    let i = x.round();
    if (x - i).abs() > 1e-6 || i < 0.0 {
        return String::new();
    }
    labels
        .get(i as usize)
        .map(|s| s.as_ref().to_owned())
        .unwrap_or_default()
}

/// Smaller markers when the days crowd.
fn dot_radius(days: usize) -> u32 {
    if days > 40 { 2 } else { 3 }
}

fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    format!("{kept}…")
}

fn percent_tick(rate: f64, y_max: f64) -> String {
    if y_max < 0.1 {
        format!("{:.1} %", rate * 100.0)
    } else {
        format!("{:.0} %", rate * 100.0)
    }
}

fn count_tick(count: f64) -> String {
    format!("{count:.0}")
}

/// Enough tick labels for whole-number steps only.
fn count_labels(y_max: f64) -> usize {
    (y_max as usize).clamp(1, 10) + 1
}

/// The smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10ᵏ at or above `x`: an axis maximum
/// that wastes little room; 1 for anything not positive or finite.
fn nice_ceiling(x: f64) -> f64 {
    if !(x.is_finite() && x > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(x.log10().floor());
    [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&v| v >= x * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude)
}

fn clamp_size((w, h): (u32, u32)) -> (u32, u32) {
    (w.max(MIN_SIZE.0), h.max(MIN_SIZE.1))
}

fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::records::{AbandonmentOutcome, MessageOutcome};
    use crate::report::{Period, ReportBuilder};
    use crate::stats::Estimate;
    use cartback_core::{Cart, Timestamp};

    /// 2024-03-04T00:00:00Z.
    pub(crate) const MONDAY: i64 = 1_709_510_400_000;
    const HOUR: i64 = 3_600_000;

    fn cart(id: &str, state: &str, at: i64, abandoned: bool, order_value: Option<i64>) -> Cart {
        let mut json = serde_json::json!({
            "id": id, "user_id": format!("user-{id}"), "state": state,
            "lines": [{"item_id": "sku-1", "quantity": 1, "unit_price": 5000}],
            "currency": "EUR", "value": 5000, "adds": 1, "removes": 0, "views": 2,
            "checkout_started": false, "created_at": at, "last_activity": at + HOUR,
            "abandonments": u32::from(abandoned),
        });
        if abandoned {
            json["abandoned_at"] = (at + HOUR).into();
        }
        if let Some(v) = order_value {
            json["order_value"] = v.into();
        }
        serde_json::from_value(json).expect("a valid cart")
    }

    /// A report over three days: 64 treated abandonments (60 settled, 18 recovered, 14 of
    /// them attributed) and 51 holdout ones (50 settled, 5 recovered), 12 purchased carts,
    /// and the treated group's messages over two channels (`email` for `reminder_email`,
    /// `webhook` for `discount_10`).
    pub(crate) fn sample_report() -> crate::report::Report {
        let mut builder = ReportBuilder::new(Period::default());
        let mut message_id = 0;
        for (holdout, count, settled, recovered) in [(false, 64, 60, 18), (true, 51, 50, 5)] {
            for i in 0..count {
                let at = MONDAY + (i % 3) * 24 * HOUR + (i / 3) * 1000;
                let id = format!("{}-{i}", if holdout { "h" } else { "t" });
                let is_settled = i < settled;
                let is_recovered = i < recovered;
                let state = match (is_settled, is_recovered) {
                    (_, true) => "recovered",
                    (true, false) => "expired",
                    (false, false) => "abandoned",
                };
                let order = is_recovered.then_some(5000);
                builder.add_cart(&cart(&id, state, at, true, order));
                let action = match (holdout, i % 2) {
                    (true, _) => "do_nothing",
                    (false, 0) => "reminder_email",
                    (false, _) => "discount_10",
                };
                let discount = action == "discount_10" && is_recovered;
                let attributed = is_recovered && !holdout && i % 9 != 0;
                builder.add_abandonment(&AbandonmentOutcome {
                    cart_id: id.clone(),
                    abandonment: 1,
                    decided_at: Timestamp(at + 2 * HOUR),
                    holdout,
                    first_action: action.into(),
                    settled: is_settled,
                    recovered: is_recovered,
                    order_value_minor: order.unwrap_or(0),
                    order_cancelled: false,
                    discount_minor: if discount { 500 } else { 0 },
                    messages_sent: u32::from(!holdout),
                    message_cost_minor: if holdout { 0.0 } else { 2.0 },
                    unsubscribed: !holdout && i == 40,
                    unsubscribe_loss_minor: if !holdout && i == 40 { 300.0 } else { 0.0 },
                    attributed,
                    currency: Some("EUR".into()),
                });
                if !holdout {
                    message_id += 1;
                    let email = action == "reminder_email";
                    let status = match i {
                        61 => "failed",
                        63 => "pending",
                        _ => "sent",
                    };
                    let sent = status == "sent";
                    builder.add_message(&MessageOutcome {
                        id: message_id,
                        action: action.into(),
                        channel: if email { "email" } else { "webhook" }.into(),
                        status: status.into(),
                        due_at: Timestamp(at + 3 * HOUR),
                        sent_at: sent.then_some(Timestamp(at + 3 * HOUR)),
                        opened: email && i % 4 != 2,
                        clicked: i % 3 == 0,
                        unsubscribed: i == 40,
                        attributed,
                        currency: Some("EUR".into()),
                    });
                }
            }
        }
        for i in 0..12 {
            let at = MONDAY + (i % 3) * 24 * HOUR + 500;
            builder.add_cart(&cart(&format!("p-{i}"), "purchased", at, false, Some(4000)));
        }
        builder.finish(Timestamp(MONDAY + 4 * 24 * HOUR))
    }

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    /// The `<tag …>` elements of `svg` whose attributes contain `attribute`.
    fn elements(svg: &str, tag: &str, attribute: &str) -> usize {
        svg.split('<')
            .filter(|e| e.starts_with(&format!("{tag} ")) && e.contains(attribute))
            .count()
    }

    #[test]
    fn the_sample_report_is_measurable() {
        let r = sample_report();
        assert!(r.lift.measurable, "{}", r.lift.verdict);
        assert_eq!((r.lift.treated.settled, r.lift.holdout.settled), (60, 50));
        assert_eq!(
            (r.lift.treated.recovered, r.lift.holdout.recovered),
            (18, 5)
        );
        assert_eq!(r.daily.len(), 3);
        assert_eq!(r.messages_by_channel.len(), 2);
    }

    #[test]
    fn lift_chart_has_two_bars_with_whiskers_and_labels() {
        let r = sample_report();
        let svg = lift_svg(&r.lift, NARROW).unwrap();
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(!svg.contains("<?xml"));
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(
            elements(&svg, "rect", &format!("fill=\"{}\"", hex(TREATED))),
            1
        );
        assert_eq!(
            elements(&svg, "rect", &format!("fill=\"{}\"", hex(HOLDOUT))),
            1
        );
        // Per bar: the whisker and its two caps.
        let whisker = format!("stroke=\"{}\"", hex(ERROR_BAR));
        assert_eq!(elements(&svg, "polyline", &whisker), 6);
        assert!(svg.contains(">\n30.0 % ["), "treated 18/60:\n{svg}");
        assert!(svg.contains(">\n10.0 % ["), "holdout 5/50:\n{svg}");
        assert!(svg.contains("treated (n = 60)") && svg.contains("holdout (n = 50)"));
        assert!(!svg.contains("no data yet"));
    }

    #[test]
    fn lift_whiskers_span_the_wilson_interval() {
        // Each whisker must run from its interval's low to its high bound, measured against
        // its own bar (0 to the rate) in pixels.
        let mut lift = Lift::default();
        let treated = Estimate {
            value: 0.3,
            ci_low: 0.2,
            ci_high: 0.4,
        };
        let holdout = Estimate {
            value: 0.05,
            ci_low: 0.0,
            ci_high: 0.1,
        };
        lift.treated.recovery_rate = Some(treated);
        lift.holdout.recovery_rate = Some(holdout);
        let svg = lift_svg(&lift, NARROW).unwrap();
        let attribute = |element: &str, name: &str| -> i32 {
            let value = element.split(&format!(" {name}=\"")).nth(1).unwrap();
            value.split('"').next().unwrap().parse().unwrap()
        };
        let whisker = format!("stroke=\"{}\"", hex(ERROR_BAR));
        // (x, top y, bottom y) of the vertical whiskers, left to right.
        let whiskers: Vec<(i32, i32, i32)> = svg
            .split('<')
            .filter(|e| e.starts_with("polyline ") && e.contains(&whisker))
            .filter_map(|e| {
                let points = e.split("points=\"").nth(1)?.split('"').next()?;
                let xy: Vec<(i32, i32)> = points
                    .split_whitespace()
                    .map(|p| {
                        let (x, y) = p.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect();
                (xy[0].0 == xy[1].0).then(|| (xy[0].0, xy[0].1.min(xy[1].1), xy[0].1.max(xy[1].1)))
            })
            .collect();
        assert_eq!(whiskers.len(), 2, "{svg}");
        for ((estimate, colour), (x, top, bottom)) in [(treated, TREATED), (holdout, HOLDOUT)]
            .into_iter()
            .zip(whiskers)
        {
            let bar = svg
                .split('<')
                .find(|e| {
                    e.starts_with("rect ") && e.contains(&format!("fill=\"{}\"", hex(colour)))
                })
                .unwrap();
            let (bar_top, height) = (attribute(bar, "y"), attribute(bar, "height"));
            let (bar_x, width) = (attribute(bar, "x"), attribute(bar, "width"));
            assert!(
                (x - (bar_x + width / 2)).abs() <= 1,
                "whisker centred on its bar"
            );
            let zero = f64::from(bar_top + height);
            let px_per_unit = f64::from(height) / estimate.value;
            let expected_top = zero - estimate.ci_high * px_per_unit;
            let expected_bottom = zero - estimate.ci_low * px_per_unit;
            assert!(
                (f64::from(top) - expected_top).abs() <= 2.0,
                "{top} vs {expected_top}"
            );
            assert!(
                (f64::from(bottom) - expected_bottom).abs() <= 2.0,
                "{bottom} vs {expected_bottom}"
            );
        }
    }

    #[test]
    fn daily_charts_have_a_line_per_group_and_stacked_bars() {
        let r = sample_report();
        let svg = daily_recoveries_svg(&r.daily, WIDE).unwrap();
        let treated_line = format!("stroke=\"{}\"", hex(TREATED));
        let holdout_line = format!("stroke=\"{}\"", hex(HOLDOUT));
        // The legend's swatch and the series.
        assert_eq!(elements(&svg, "polyline", &treated_line), 2);
        assert_eq!(elements(&svg, "polyline", &holdout_line), 2);
        let treated_dot = format!("fill=\"{}\"", hex(TREATED));
        assert_eq!(elements(&svg, "circle", &treated_dot), 3);
        for day in ["2024-03-04", "2024-03-05", "2024-03-06"] {
            assert!(svg.contains(day), "{day} in\n{svg}");
        }
        let svg = daily_volume_svg(&r.daily, WIDE).unwrap();
        // Three days of treated and holdout bars, plus one legend swatch each.
        assert_eq!(
            elements(&svg, "rect", &format!("fill=\"{}\"", hex(TREATED))),
            4
        );
        assert_eq!(
            elements(&svg, "rect", &format!("fill=\"{}\"", hex(HOLDOUT))),
            4
        );
        assert_eq!(
            elements(&svg, "circle", &format!("fill=\"{}\"", hex(CARTS))),
            3
        );
    }

    #[test]
    fn funnel_has_four_bars_per_action() {
        let r = sample_report();
        let svg = message_funnel_svg(&r.messages_by_action, WIDE).unwrap();
        for colour in FUNNEL {
            // Two actions and the legend's swatch.
            assert_eq!(
                elements(&svg, "rect", &format!("fill=\"{}\"", hex(colour))),
                3
            );
        }
        assert!(svg.contains("reminder_email") && svg.contains("discount_10"));
        let sent = r.messages_by_action["reminder_email"].sent;
        assert!(svg.contains(&format!(">\n{sent}\n</text>")), "{svg}");
    }

    #[test]
    fn day_labels_thin_out_when_many_days() {
        assert_eq!(day_ticks(3, 700).len(), 3);
        let ticks = day_ticks(90, 700);
        assert!(ticks.len() <= 7 && ticks.len() >= 5, "{ticks:?}");
        assert_eq!(ticks[0], 0.0);
    }

    #[test]
    fn empty_and_degenerate_inputs_draw_no_data_or_a_chart_without_panicking() {
        let empty = ReportBuilder::new(Period::default()).finish(Timestamp(0));
        let charts = dashboard_charts(&empty).unwrap();
        for svg in [
            &charts.lift,
            &charts.daily_recoveries,
            &charts.message_funnel,
            &charts.daily_volume,
        ] {
            assert!(svg.contains(">no data yet</text>"), "{svg}");
            assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"));
        }
        // One day, rates of zero, zero counts, a lone group, NaN, a tiny size.
        let day = DayRow {
            day: "2024-03-04".into(),
            carts: 1,
            treated_abandonments: 1,
            treated_settled: 1,
            ..DayRow::default()
        };
        let svg = daily_recoveries_svg(std::slice::from_ref(&day), (10, 10)).unwrap();
        assert!(!svg.contains("no data yet") && svg.contains("width=\"240\""));
        assert!(
            !daily_volume_svg(&[day], WIDE)
                .unwrap()
                .contains("no data yet")
        );
        let zero = DayRow {
            day: "2024-03-04".into(),
            ..DayRow::default()
        };
        assert!(
            daily_volume_svg(&[zero], WIDE)
                .unwrap()
                .contains("no data yet")
        );
        let mut lift = Lift::default();
        lift.treated.recovery_rate = Some(Estimate {
            value: 0.0,
            ci_low: 0.0,
            ci_high: 0.0,
        });
        let svg = lift_svg(&lift, NARROW).unwrap();
        assert!(svg.contains("no holdout yet") && !svg.contains("no data yet"));
        lift.treated.recovery_rate = Some(Estimate {
            value: f64::NAN,
            ci_low: 0.0,
            ci_high: 1.0,
        });
        assert!(lift_svg(&lift, NARROW).unwrap().contains("no data yet"));
        let idle: BTreeMap<String, MessageKpis> = [(
            "reminder_email".to_owned(),
            MessageKpis {
                messages: 3,
                pending: 3,
                ..MessageKpis::default()
            },
        )]
        .into();
        assert!(
            message_funnel_svg(&idle, WIDE)
                .unwrap()
                .contains("no data yet")
        );
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(f64::NAN), 1.0);
        assert_eq!(nice_ceiling(0.33), 0.4);
        assert_eq!(nice_ceiling(1.0), 1.0);
        assert_eq!(nice_ceiling(1.1), 1.5);
        assert_eq!(nice_ceiling(23.0), 25.0);
        assert_eq!(nice_ceiling(0.85), 1.0);
        assert_eq!(count(&shorten("reminder_email", 6), "…"), 1);
    }
}
