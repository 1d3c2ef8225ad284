package report

import (
	"bytes"
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Chart file names WriteCharts writes and WriteMarkdown links.
const (
	StartupChart = "startup.svg"
	MemoryChart  = "memory.svg"
)

// Chart geometry: a fixed width, and a panel height that grows with the
// number of subjects so every row keeps room for its name.
const (
	chartWidth     = 18 * vg.Centimeter
	panelBase      = 3 * vg.Centimeter
	panelPerRow    = 0.9 * vg.Centimeter
	boxWidth       = 0.5 * vg.Centimeter
	dotJitter      = 0.08 // rows apart a sample's dot may be drawn
	logSpreadRatio = 30   // use a log axis when max/min exceeds this
	chartMargin    = 8 * vg.Millimeter / 2
)

// panel is one chart of one place: host rows and rig rows never share an
// axis, since rig times are emulator time.
type panel struct {
	where    Where
	subjects []*Subject
}

// panels groups the subjects measured for m by place, host first.
func panels(run *Run, m Metric) []panel {
	var out []panel
	for _, at := range []Where{WhereHost, WhereRig} {
		pn := panel{where: at}
		for i := range run.Subjects {
			s := &run.Subjects[i]
			if _, ok := s.Median(m); ok && s.Where == at {
				pn.subjects = append(pn.subjects, s)
			}
		}
		if len(pn.subjects) > 0 {
			out = append(out, pn)
		}
	}
	return out
}

// panelTitle names the panel's place; rig times are flagged as emulator
// time, which no host row may be read against.
func panelTitle(what string, at Where, clock bool) string {
	switch {
	case at == WhereRig && clock:
		return what + ", in the nested rig: EMULATOR TIME"
	case at == WhereRig:
		return what + ", in the nested rig"
	}
	return what + ", on the host"
}

// WriteCharts draws StartupChart (the distribution of time to READY per
// subject: a box plot and every sample as a dot) and MemoryChart (median
// peak RSS per subject, bars) into dir. Each file has one panel per place
// the subjects ran (host, rig), each with its own axis and title.
func WriteCharts(dir string, run *Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("charts: %w", err)
	}
	for _, c := range []struct {
		file string
		draw func(panel) (*plot.Plot, error)
		m    Metric
	}{
		{StartupChart, startupPlot, MetricReadyNS},
		{MemoryChart, memoryPlot, MetricPeakRSSKiB},
	} {
		var plots []*plot.Plot
		var rows []int
		for _, pn := range panels(run, c.m) {
			p, err := c.draw(pn)
			if err != nil {
				return fmt.Errorf("charts: %s: %w", c.file, err)
			}
			plots = append(plots, p)
			rows = append(rows, len(pn.subjects))
		}
		if len(plots) == 0 {
			p := plot.New()
			p.Title.Text = "no subject was measured"
			plots, rows = []*plot.Plot{p}, []int{0}
		}
		if err := writeSVG(filepath.Join(dir, c.file), plots, rows); err != nil {
			return fmt.Errorf("charts: %w", err)
		}
	}
	return nil
}

// writeSVG stacks the plots top to bottom, each as tall as its rows need.
func writeSVG(path string, plots []*plot.Plot, rows []int) error {
	heights := make([]vg.Length, len(plots))
	var total vg.Length
	for i, n := range rows {
		heights[i] = panelBase + vg.Length(n)*panelPerRow
		total += heights[i]
	}
	canvas := vgsvg.New(chartWidth, total)
	dc := draw.New(canvas)
	top := total
	for i, p := range plots {
		c := dc
		c.Rectangle = vg.Rectangle{Min: vg.Point{X: 0, Y: top - heights[i]}, Max: vg.Point{X: chartWidth, Y: top}}
		// A margin all round: gonum sizes the axes from font metrics,
		// and a viewer's fallback font may be wider.
		p.Draw(draw.Crop(c, chartMargin, -chartMargin, chartMargin, -chartMargin))
		top -= heights[i]
	}
	var buf bytes.Buffer
	if _, err := canvas.WriteTo(&buf); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// rowNames names the rows top to bottom; row i is drawn at y = n-1-i.
func rowNames(subjects []*Subject) []string {
	names := make([]string, len(subjects))
	for i, s := range subjects {
		names[len(subjects)-1-i] = s.Name
	}
	return names
}

func startupPlot(pn panel) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = panelTitle("Time to READY", pn.where, true)
	p.X.Label.Text = "ms from exec to READY (box: quartiles and median; dots: every start)"
	lo, hi := 0.0, 0.0
	n := len(pn.subjects)
	for i, s := range pn.subjects {
		var ms plotter.Values
		var dots plotter.XYs
		for k, smp := range s.Samples {
			if smp.ReadyNS == 0 {
				continue
			}
			v := float64(smp.ReadyNS) / 1e6
			ms = append(ms, v)
			// A fixed, repeating offset spreads equal values apart
			// so each start stays visible; no randomness in a report.
			dots = append(dots, plotter.XY{X: v, Y: float64(n-1-i) + dotJitter*float64(k%5-2)/2})
		}
		if lo == 0 || slices.Min(ms) < lo {
			lo = slices.Min(ms)
		}
		hi = max(hi, slices.Max(ms))
		box, err := plotter.NewBoxPlot(boxWidth, float64(n-1-i), ms)
		if err != nil {
			return nil, err
		}
		box.Horizontal = true
		box.FillColor = color.RGBA{R: 0xdd, G: 0xe8, B: 0xf4, A: 0xff}
		sc, err := plotter.NewScatter(dots)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle.Radius = vg.Points(1.5)
		sc.GlyphStyle.Shape = draw.CircleGlyph{}
		sc.GlyphStyle.Color = color.RGBA{R: 0xc0, G: 0x39, B: 0x2b, A: 0xff}
		p.Add(box, sc)
	}
	p.NominalY(rowNames(pn.subjects)...)
	if lo > 0 && hi/lo > logSpreadRatio {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		p.X.Label.Text += ", log scale"
	} else {
		p.X.Min = 0 // a zoomed linear axis would magnify small differences
	}
	return p, nil
}

func memoryPlot(pn panel) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = panelTitle("Peak RSS of the VMM or runtime (median)", pn.where, false)
	p.X.Label.Text = "MiB"
	n := len(pn.subjects)
	vals := make(plotter.Values, n)
	for i, s := range pn.subjects {
		v, _ := s.Median(MetricPeakRSSKiB)
		vals[n-1-i] = float64(v) / 1024
	}
	bars, err := plotter.NewBarChart(vals, boxWidth)
	if err != nil {
		return nil, err
	}
	bars.Horizontal = true
	bars.Color = color.RGBA{R: 0x4a, G: 0x78, B: 0xa8, A: 0xff}
	bars.LineStyle.Width = 0
	// Each bar carries its value in words, so no one reads it off the axis.
	var xys plotter.XYs
	var texts []string
	for i, v := range vals {
		xys = append(xys, plotter.XY{X: v, Y: float64(i)})
		texts = append(texts, " "+formatKiB(int64(v*1024)))
	}
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: texts})
	if err != nil {
		return nil, err
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].YAlign = draw.YCenter
	}
	p.Add(bars, labels)
	p.NominalY(rowNames(pn.subjects)...)
	p.X.Min = 0
	p.X.Max *= 1.2 // room for the labels
	return p, nil
}
