package dev.loraort.trainer.plot;

import dev.loraort.artifacts.AtomicFiles;
import dev.loraort.artifacts.Xml;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A small SVG chart: a framed plot area with a labelled grid (four divisions of each y axis), a
 * left and optionally a right y axis, and lines, points and error bars placed in data coordinates.
 * SVG, not a raster image, so that drawing needs no fonts or graphics libraries on the machine that
 * trains (a bare GPU host's JRE cannot draw text into a PNG); the viewer renders the text. Each
 * instance draws one document: create it, draw, then {@link #svg()} or {@link #write(Path)}.
 */
public final class Chart {
  /** Divisions of a y axis (and of an even x axis). */
  public static final int TICKS = 4;

  /** Colours shared by the charts: blue, red, green, orange, purple. */
  public static final List<String> PALETTE =
      List.of("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd");

  /** Text and the frame's labels. */
  public static final String DARK_GREY = "#404040";

  /** Individual seeds' dots. */
  public static final String LIGHT_GREY = "#969696";

  private static final String GRID_GREY = "#e8e8e8";
  private static final String FRAME_GREY = "#808080";
  private static final int LEFT = 70;
  private static final int RIGHT = 70;
  private static final int TOP = 40;
  private static final int LINE = 15;
  private static final Pattern COLOR = Pattern.compile("#[0-9a-fA-F]{6}");

  /**
   * A y axis.
   *
   * @param title drawn above the axis
   * @param lo value at the bottom of the plot area
   * @param hi value at the top
   * @param format the tick labels' format, e.g. {@code %.3f}
   * @param color of the title and tick labels, {@code #rrggbb}
   */
  public record Axis(String title, double lo, double hi, String format, String color) {
    /** Checks the range and the colour. */
    public Axis {
      if (!(hi > lo) || !Double.isFinite(hi - lo)) {
        throw new IllegalArgumentException(
            "axis " + title + ": needs finite lo < hi, got [" + lo + ", " + hi + "]");
      }
      checkColor(color);
    }
  }

  /**
   * A labelled position on the x axis.
   *
   * @param x where, in data coordinates
   * @param label drawn under the axis; a newline starts a second line
   */
  public record Tick(double x, String label) {}

  private final StringBuilder body = new StringBuilder();
  private final double xlo;
  private final double xhi;
  private final Axis left;
  private final Axis right;
  private final int width;
  private final int height;
  private final int bottom;
  private final int pw;
  private final int ph;

  /**
   * A white canvas with its axes' ranges and room for one line of x tick labels.
   *
   * @param width pixels
   * @param height pixels
   * @param xlo x at the left edge of the plot area
   * @param xhi x at the right edge
   * @param left the left y axis
   * @param right the right y axis, or null for none
   * @throws IllegalArgumentException if xlo is not below xhi or the plot area would be empty
   */
  public Chart(int width, int height, double xlo, double xhi, Axis left, Axis right) {
    this(width, height, 1, xlo, xhi, left, right);
  }

  /**
   * A white canvas with its axes' ranges; nothing is drawn on it yet.
   *
   * @param width pixels
   * @param height pixels
   * @param xLabelLines lines of the x tick labels the bottom margin must hold (1 or more)
   * @param xlo x at the left edge of the plot area
   * @param xhi x at the right edge
   * @param left the left y axis
   * @param right the right y axis, or null for none
   * @throws IllegalArgumentException if xlo is not below xhi or the plot area would be empty
   */
  public Chart(
      int width, int height, int xLabelLines, double xlo, double xhi, Axis left, Axis right) {
    this.bottom = 35 + LINE * Math.max(1, xLabelLines); // the labels, then the x title
    if (!(xhi > xlo) || width <= LEFT + RIGHT || height <= TOP + bottom) {
      throw new IllegalArgumentException(
          "chart: needs xlo < xhi and room for the plot area, got x ["
              + xlo
              + ", "
              + xhi
              + "], "
              + width
              + " x "
              + height
              + " pixels");
    }
    this.width = width;
    this.height = height;
    this.xlo = xlo;
    this.xhi = xhi;
    this.left = left;
    this.right = right;
    this.pw = width - LEFT - RIGHT;
    this.ph = height - TOP - bottom;
  }

  /**
   * {@link #TICKS} + 1 evenly spaced ticks from lo to hi, labelled with rounded integers (steps).
   *
   * @param lo first tick
   * @param hi last tick
   * @return the ticks
   */
  public static List<Tick> evenTicks(double lo, double hi) {
    List<Tick> t = new ArrayList<>();
    for (int k = 0; k <= TICKS; k++) {
      double x = lo + (hi - lo) * k / TICKS;
      t.add(new Tick(x, String.valueOf(Math.round(x))));
    }
    return t;
  }

  /**
   * The grid and its labels: a vertical line at each x tick with its label centred below, {@link
   * #TICKS} divisions of the y axes with the values at each line (left axis on the left, right axis
   * on the right), the frame, the axes' titles above them and the x title below.
   *
   * @param xTicks the x ticks
   * @param xTitle the x axis' title
   */
  public void grid(List<Tick> xTicks, String xTitle) {
    for (Tick tick : xTicks) {
      int x = px(tick.x());
      segment(x, TOP, x, TOP + ph, GRID_GREY, 1, "");
      String[] lines = tick.label().split("\n");
      for (int i = 0; i < lines.length; i++) {
        text(x, TOP + ph + 18 + LINE * i, "middle", DARK_GREY, lines[i]);
      }
    }
    for (int k = 0; k <= TICKS; k++) {
      int y = TOP + ph - ph * k / TICKS;
      segment(LEFT, y, LEFT + pw, y, GRID_GREY, 1, "");
      text(LEFT - 8, y + 4, "end", left.color(), label(left, k));
      if (right != null) {
        text(width - RIGHT + 8, y + 4, "start", right.color(), label(right, k));
      }
    }
    body.append(
        String.format(
            Locale.ROOT,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"%s\"/>\n",
            LEFT,
            TOP,
            pw,
            ph,
            FRAME_GREY));
    text(LEFT + pw / 2, height - 12, "middle", DARK_GREY, xTitle);
    text(8, TOP - 10, "start", left.color(), left.title());
    if (right != null) {
      text(width - 8, TOP - 10, "end", right.color(), right.title());
    }
  }

  private static String label(Axis a, int k) {
    return String.format(Locale.ROOT, a.format(), a.lo() + (a.hi() - a.lo()) * k / TICKS);
  }

  /**
   * Points joined by straight lines, each marked with a dot.
   *
   * @param pts {x, y} pairs in order
   * @param axis the y axis they belong to
   * @param color line colour
   * @param lineWidth pixels
   */
  public void line(List<double[]> pts, Axis axis, String color, float lineWidth) {
    checkColor(color);
    int[][] xy = pts.stream().map(p -> new int[] {px(p[0]), py(p[1], axis)}).toArray(int[][]::new);
    StringBuilder points = new StringBuilder();
    for (int[] q : xy) {
      points.append(points.isEmpty() ? "" : " ").append(q[0]).append(',').append(q[1]);
    }
    body.append(
        String.format(
            Locale.ROOT,
            "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"/>\n",
            points,
            color,
            lineWidth));
    for (int[] q : xy) { // the dots over the line
      dot(q[0], q[1], 4, color);
    }
  }

  /**
   * A filled dot.
   *
   * @param x data x
   * @param y data y
   * @param axis the y axis
   * @param color fill
   * @param diameter pixels
   */
  public void point(double x, double y, Axis axis, String color, int diameter) {
    checkColor(color);
    dot(px(x), py(y, axis), diameter, color);
  }

  /**
   * A vertical bar from lo to hi with short caps.
   *
   * @param x data x
   * @param lo data y of the lower end
   * @param hi data y of the upper end
   * @param axis the y axis
   * @param color bar colour
   */
  public void errorBar(double x, double lo, double hi, Axis axis, String color) {
    checkColor(color);
    int cx = px(x);
    int y0 = py(lo, axis);
    int y1 = py(hi, axis);
    segment(cx, y0, cx, y1, color, 2, "");
    segment(cx - 6, y0, cx + 6, y0, color, 2, "");
    segment(cx - 6, y1, cx + 6, y1, color, 2, "");
  }

  /**
   * A dashed horizontal line across the plot area.
   *
   * @param y data y
   * @param axis the y axis
   * @param color line colour
   */
  public void dashedLevel(double y, Axis axis, String color) {
    checkColor(color);
    segment(LEFT, py(y, axis), LEFT + pw, py(y, axis), color, 1, " stroke-dasharray=\"6\"");
  }

  /**
   * A line of text in the top margin, right of the left axis' title.
   *
   * @param text the caption
   */
  public void caption(String text) {
    text(LEFT + 90, TOP - 10, "start", DARK_GREY, text);
  }

  /**
   * @return the SVG document drawn so far
   */
  public String svg() {
    return String.format(
            Locale.ROOT,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%1$d\" height=\"%2$d\" viewBox=\"0 0"
                + " %1$d %2$d\" font-family=\"sans-serif\" font-size=\"13\">\n"
                + "<rect width=\"%1$d\" height=\"%2$d\" fill=\"white\"/>\n",
            width,
            height)
        + body
        + "</svg>\n";
  }

  /**
   * Writes the document through a temporary sibling, so an existing chart is replaced only whole.
   *
   * @param file the .svg file
   * @throws IOException if it cannot be written
   */
  public void write(Path file) throws IOException {
    byte[] b = svg().getBytes(StandardCharsets.UTF_8);
    AtomicFiles.write(file, o -> o.write(b));
  }

  /** Pixel column of data x (the plot area spans xlo to xhi). */
  int px(double x) {
    requireFinite(x, "x");
    return LEFT + (int) Math.round(pw * (x - xlo) / (xhi - xlo));
  }

  /** Pixel row of data y on an axis (lo at the bottom of the plot area, hi at the top). */
  int py(double y, Axis axis) {
    requireFinite(y, axis.title());
    return TOP + ph - (int) Math.round(ph * (y - axis.lo()) / (axis.hi() - axis.lo()));
  }

  private void segment(int x1, int y1, int x2, int y2, String color, int width, String extra) {
    body.append(
        String.format(
            Locale.ROOT,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"%d\"%s/>\n",
            x1,
            y1,
            x2,
            y2,
            color,
            width,
            extra));
  }

  private void dot(int x, int y, int diameter, String color) {
    body.append(
        String.format(
            Locale.ROOT,
            "<circle cx=\"%d\" cy=\"%d\" r=\"%s\" fill=\"%s\"/>\n",
            x,
            y,
            diameter / 2.0,
            color));
  }

  private void text(int x, int y, String anchor, String color, String s) {
    body.append(
        String.format(
            Locale.ROOT,
            "<text x=\"%d\" y=\"%d\" text-anchor=\"%s\" fill=\"%s\">%s</text>\n",
            x,
            y,
            anchor,
            color,
            Xml.escape(s)));
  }

  /** A NaN would land on the axis' bottom edge and pass for its lowest value. */
  private static void requireFinite(double v, String axis) {
    if (!Double.isFinite(v)) {
      throw new IllegalArgumentException("chart: " + axis + " value " + v + " is not finite");
    }
  }

  private static void checkColor(String color) {
    if (!COLOR.matcher(color).matches()) {
      throw new IllegalArgumentException("chart: colour " + color + " is not #rrggbb");
    }
  }
}
