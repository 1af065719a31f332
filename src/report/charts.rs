//! Chart geometry for the HTML reports: where every bar, whisker, line and label goes. The
//! SVG itself is written by the templates (`reports/charts.html.j2`); this only computes
//! coordinates, so charts are deterministic and need no runtime library.

use super::history::History;
use crate::stats::Interval;
use serde::Serialize;

pub const PALETTE: &[&str] = &[
    "#1b6ca8", "#d1495b", "#2e933c", "#b8860b", "#6a4c93", "#00798c", "#8d6a9f", "#c05746",
];

#[derive(Debug, Clone, Default, Serialize)]
pub struct Tick {
    pub x: f64,
    pub y: f64,
    pub label: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Bar {
    pub agent: String,
    /// Top of the agent's band.
    pub y: f64,
    pub resolved_w: f64,
    pub merged_w: f64,
    pub ci_x1: f64,
    pub ci_x2: f64,
    pub resolved_label: String,
    pub merged_label: String,
}

/// Resolved beside mergeable per agent, with the mergeable interval as a whisker.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BarChart {
    pub width: f64,
    pub height: f64,
    pub plot_x: f64,
    pub plot_w: f64,
    pub bars: Vec<Bar>,
    pub ticks: Vec<Tick>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Dot {
    pub x: f64,
    pub y: f64,
    pub regression: bool,
    pub title: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Line {
    pub agent: String,
    pub color: String,
    /// SVG polyline points: "x,y x,y ...".
    pub points: String,
    pub dots: Vec<Dot>,
    pub legend_y: f64,
}

/// Merge rate per night per agent.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrendChart {
    pub width: f64,
    pub height: f64,
    pub plot_x: f64,
    pub plot_y: f64,
    pub plot_w: f64,
    pub plot_h: f64,
    pub legend_x: f64,
    pub x_ticks: Vec<Tick>,
    pub y_ticks: Vec<Tick>,
    pub lines: Vec<Line>,
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// A night's axis label: month, day and time, so two runs on one day stay apart.
pub fn night_label(created_at: &str) -> String {
    created_at
        .get(5..16)
        .unwrap_or(created_at)
        .replace('T', " ")
}

fn r1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// One agent's bar: its resolved rate and its merge rate with the merge rate's interval.
#[derive(Debug, Clone, Copy)]
pub struct AgentRates<'a> {
    pub agent: &'a str,
    pub resolved: f64,
    pub merged: &'a Interval,
}

pub fn rates(agents: &[AgentRates<'_>]) -> BarChart {
    let (plot_x, plot_w, band) = (150.0, 420.0, 36.0);
    let top = 10.0;
    let x = |v: f64| r1(plot_x + v.clamp(0.0, 1.0) * plot_w);
    let bars: Vec<Bar> = agents
        .iter()
        .enumerate()
        .map(|(i, a)| Bar {
            agent: a.agent.to_string(),
            y: r1(top + i as f64 * band),
            resolved_w: r1(a.resolved * plot_w),
            merged_w: r1(a.merged.estimate * plot_w),
            ci_x1: x(a.merged.low),
            ci_x2: x(a.merged.high),
            resolved_label: pct(a.resolved),
            merged_label: pct(a.merged.estimate),
        })
        .collect();
    let height = top + bars.len() as f64 * band + 24.0;
    BarChart {
        width: plot_x + plot_w + 60.0,
        height,
        plot_x,
        plot_w,
        ticks: (0..=4)
            .map(|i| Tick {
                x: x(i as f64 / 4.0),
                y: height - 6.0,
                label: pct(i as f64 / 4.0),
            })
            .collect(),
        bars,
    }
}

/// The merge rate of every agent over the nights of `history`; `order` (agent names) first.
pub fn trend(history: &History, order: &[&str]) -> TrendChart {
    let (plot_x, plot_y, plot_w, plot_h) = (50.0, 14.0, 460.0, 180.0);
    let n = history.nights.len();
    let x = |i: usize| {
        r1(if n <= 1 {
            plot_x + plot_w / 2.0
        } else {
            plot_x + i as f64 * plot_w / (n - 1) as f64
        })
    };
    let y = |v: f64| r1(plot_y + (1.0 - v.clamp(0.0, 1.0)) * plot_h);
    // Agents of the reported night first, in leaderboard order, then those that left.
    let mut series: Vec<&super::history::Series> = order
        .iter()
        .filter_map(|a| history.series.iter().find(|s| s.agent == *a))
        .collect();
    for s in &history.series {
        if !order.contains(&s.agent.as_str()) {
            series.push(s);
        }
    }
    let lines = series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let dots: Vec<Dot> = s
                .points
                .iter()
                .enumerate()
                .filter_map(|(night, p)| {
                    let p = p.as_ref()?;
                    Some(Dot {
                        x: x(night),
                        y: y(p.merge_rate.estimate),
                        regression: p.regression.is_some(),
                        title: format!(
                            "{} · {}: mergeable {} (95% CI {}–{})",
                            s.agent,
                            night_label(&history.nights[night].created_at),
                            pct(p.merge_rate.estimate),
                            pct(p.merge_rate.low),
                            pct(p.merge_rate.high)
                        ),
                    })
                })
                .collect();
            Line {
                agent: s.agent.clone(),
                color: PALETTE[i % PALETTE.len()].to_string(),
                points: dots
                    .iter()
                    .map(|d| format!("{},{}", d.x, d.y))
                    .collect::<Vec<_>>()
                    .join(" "),
                dots,
                legend_y: plot_y + 8.0 + i as f64 * 16.0,
            }
        })
        .collect::<Vec<_>>();
    TrendChart {
        width: plot_x + plot_w + 170.0,
        height: plot_y + plot_h + 40.0,
        plot_x,
        plot_y,
        plot_w,
        plot_h,
        legend_x: plot_x + plot_w + 24.0,
        x_ticks: history
            .nights
            .iter()
            .enumerate()
            .map(|(i, night)| Tick {
                x: x(i),
                y: plot_y + plot_h + 18.0,
                label: night_label(&night.created_at),
            })
            .collect(),
        y_ticks: (0..=4)
            .map(|i| Tick {
                x: plot_x - 6.0,
                y: y(i as f64 / 4.0),
                label: pct(i as f64 / 4.0),
            })
            .collect(),
        lines,
    }
}
