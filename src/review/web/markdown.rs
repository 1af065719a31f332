//! Problem statements as HTML, safely: every character is escaped first, then a small subset
//! of Markdown (headings, paragraphs, bullet lists, fenced code, `code`, **bold**) is turned
//! into the only tags this renderer ever writes. Links and raw HTML stay visible text.

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `code` and **bold** inside an already escaped line.
fn inline(escaped: &str) -> String {
    let mut out = String::new();
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(part);
            out.push_str("</code>");
        } else {
            for (j, b) in part.split("**").enumerate() {
                if j % 2 == 1 {
                    out.push_str("<strong>");
                    out.push_str(b);
                    out.push_str("</strong>");
                } else {
                    out.push_str(b);
                }
            }
        }
    }
    // An unpaired marker leaves an unclosed tag: fall back to the plain escaped text.
    if escaped.matches('`').count() % 2 == 1 || escaped.matches("**").count() % 2 == 1 {
        return escaped.to_string();
    }
    out
}

pub fn render(markdown: &str) -> String {
    let mut html = String::new();
    let mut para: Vec<String> = Vec::new();
    let mut list = false;
    let mut code: Option<Vec<String>> = None;
    let flush = |html: &mut String, para: &mut Vec<String>, list: &mut bool| {
        if !para.is_empty() {
            html.push_str(&format!("<p>{}</p>\n", para.join("\n")));
            para.clear();
        }
        if *list {
            html.push_str("</ul>\n");
            *list = false;
        }
    };
    for line in markdown.lines() {
        if let Some(block) = code.as_mut() {
            if line.trim_start().starts_with("```") {
                html.push_str(&format!("<pre><code>{}</code></pre>\n", block.join("\n")));
                code = None;
            } else {
                block.push(escape(line));
            }
            continue;
        }
        let t = line.trim_start();
        if t.starts_with("```") {
            flush(&mut html, &mut para, &mut list);
            code = Some(Vec::new());
        } else if t.is_empty() {
            flush(&mut html, &mut para, &mut list);
        } else if let Some(level) = (1..=4).find(|&n| t.starts_with(&format!("{} ", "#".repeat(n))))
        {
            flush(&mut html, &mut para, &mut list);
            let h = (level + 2).min(6);
            html.push_str(&format!(
                "<h{h}>{}</h{h}>\n",
                inline(&escape(t[level + 1..].trim()))
            ));
        } else if let Some(item) = t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")) {
            if !para.is_empty() {
                let mut l = false;
                flush(&mut html, &mut para, &mut l);
            }
            if !list {
                html.push_str("<ul>\n");
                list = true;
            }
            html.push_str(&format!("<li>{}</li>\n", inline(&escape(item))));
        } else {
            if list {
                html.push_str("</ul>\n");
                list = false;
            }
            para.push(inline(&escape(line)));
        }
    }
    if let Some(block) = code {
        html.push_str(&format!("<pre><code>{}</code></pre>\n", block.join("\n")));
    }
    flush(&mut html, &mut para, &mut list);
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped_and_only_the_safe_subset_becomes_tags() {
        let md = "# Title <b>\n\nCall `f(<x>)` and **stop**.\n<script>alert(1)</script>\n\n- one\n- \"><img src=x onerror=alert(1)>\n\n```\n<div>code</div>\n```\n[link](javascript:alert(1))\n";
        let html = render(md);
        assert!(html.contains("<h3>Title &lt;b&gt;</h3>"), "{html}");
        assert!(html.contains("<code>f(&lt;x&gt;)</code>"));
        assert!(html.contains("<strong>stop</strong>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("<li>&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</li>"));
        assert!(html.contains("<pre><code>&lt;div&gt;code&lt;/div&gt;</code></pre>"));
        assert!(html.contains("[link](javascript:alert(1))"));
        // Every tag in the output is one this renderer writes.
        let allowed = [
            "p", "/p", "h3", "/h3", "ul", "/ul", "li", "/li", "code", "/code", "pre", "/pre",
            "strong", "/strong",
        ];
        for tag in html.split('<').skip(1) {
            let name: String = tag.chars().take_while(|c| *c != '>').collect();
            assert!(
                allowed.contains(&name.as_str()),
                "unexpected tag <{name}> in {html}"
            );
        }
        assert_eq!(render("a `b"), "<p>a `b</p>\n");
    }
}
