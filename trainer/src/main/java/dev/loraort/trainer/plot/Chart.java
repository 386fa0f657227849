package dev.loraort.trainer.plot;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.Stroke;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import javax.imageio.ImageIO;

/**
 * A small raster chart: a framed plot area with a labelled grid (four divisions of each y axis), a
 * left and optionally a right y axis, and lines, points and error bars placed in data coordinates.
 * Each instance draws one image: create it, draw, then {@link #image()}.
 */
public final class Chart {
  /** Divisions of a y axis (and of an even x axis). */
  public static final int TICKS = 4;

  /** Colours shared by the charts: blue, red, green, orange, purple. */
  public static final List<Color> PALETTE =
      List.of(
          new Color(31, 119, 180),
          new Color(214, 39, 40),
          new Color(44, 160, 44),
          new Color(255, 127, 14),
          new Color(148, 103, 189));

  private static final int LEFT = 70;
  private static final int RIGHT = 70;
  private static final int TOP = 40;
  private static final int LINE = 15;

  /**
   * A y axis.
   *
   * @param title drawn above the axis
   * @param lo value at the bottom of the plot area
   * @param hi value at the top
   * @param format the tick labels' format, e.g. {@code %.3f}
   * @param color of the title and tick labels
   */
  public record Axis(String title, double lo, double hi, String format, Color color) {
    /** Checks the range. */
    public Axis {
      if (!(hi > lo)) {
        throw new IllegalArgumentException(
            "axis " + title + ": needs lo < hi, got [" + lo + ", " + hi + "]");
      }
    }
  }

  /**
   * A labelled position on the x axis.
   *
   * @param x where, in data coordinates
   * @param label drawn under the axis; a newline starts a second line
   */
  public record Tick(double x, String label) {}

  private final BufferedImage img;
  private final Graphics2D g;
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
    this.img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
    this.g = img.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, width, height);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 13));
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
   * The grid and its labels: a vertical line at each x tick with its label below, {@link #TICKS}
   * divisions of the y axes with the values at each line (left axis on the left, right axis on the
   * right), the frame, the axes' titles above them and the x title below.
   *
   * @param xTicks the x ticks
   * @param xTitle the x axis' title
   */
  public void grid(List<Tick> xTicks, String xTitle) {
    for (Tick tick : xTicks) {
      int x = px(tick.x());
      g.setColor(new Color(232, 232, 232));
      g.drawLine(x, TOP, x, TOP + ph);
      g.setColor(Color.DARK_GRAY);
      String[] lines = tick.label().split("\n");
      for (int i = 0; i < lines.length; i++) {
        g.drawString(lines[i], x - 4 * lines[i].length(), TOP + ph + 18 + LINE * i);
      }
    }
    for (int k = 0; k <= TICKS; k++) {
      int y = TOP + ph - ph * k / TICKS;
      g.setColor(new Color(232, 232, 232));
      g.drawLine(LEFT, y, LEFT + pw, y);
      g.setColor(left.color());
      g.drawString(label(left, k), 14, y + 4);
      if (right != null) {
        g.setColor(right.color());
        g.drawString(label(right, k), width - RIGHT + 8, y + 4);
      }
    }
    g.setColor(Color.GRAY);
    g.drawRect(LEFT, TOP, pw, ph);
    g.setColor(Color.DARK_GRAY);
    g.drawString(xTitle, width / 2 - 4 * xTitle.length(), height - 12);
    g.setColor(left.color());
    g.drawString(left.title(), 8, TOP - 10);
    if (right != null) {
      g.setColor(right.color());
      g.drawString(right.title(), width - RIGHT - 60, TOP - 10);
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
  public void line(List<double[]> pts, Axis axis, Color color, float lineWidth) {
    g.setColor(color);
    g.setStroke(new BasicStroke(lineWidth));
    int qx = -1;
    int qy = -1;
    for (double[] p : pts) {
      int x = px(p[0]);
      int y = py(p[1], axis);
      if (qx >= 0) {
        g.drawLine(qx, qy, x, y);
      }
      g.fillOval(x - 2, y - 2, 4, 4);
      qx = x;
      qy = y;
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
  public void point(double x, double y, Axis axis, Color color, int diameter) {
    g.setColor(color);
    g.fillOval(px(x) - diameter / 2, py(y, axis) - diameter / 2, diameter, diameter);
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
  public void errorBar(double x, double lo, double hi, Axis axis, Color color) {
    g.setColor(color);
    g.setStroke(new BasicStroke(2f));
    int cx = px(x);
    int y0 = py(lo, axis);
    int y1 = py(hi, axis);
    g.drawLine(cx, y0, cx, y1);
    g.drawLine(cx - 6, y0, cx + 6, y0);
    g.drawLine(cx - 6, y1, cx + 6, y1);
  }

  /**
   * A dashed horizontal line across the plot area.
   *
   * @param y data y
   * @param axis the y axis
   * @param color line colour
   */
  public void dashedLevel(double y, Axis axis, Color color) {
    Stroke before = g.getStroke();
    g.setColor(color);
    g.setStroke(
        new BasicStroke(
            1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f}, 0));
    g.drawLine(LEFT, py(y, axis), LEFT + pw, py(y, axis));
    g.setStroke(before);
  }

  /**
   * A line of text in the top margin, right of the left axis' title.
   *
   * @param text the caption
   */
  public void caption(String text) {
    g.setColor(Color.DARK_GRAY);
    g.drawString(text, LEFT + 90, TOP - 10);
  }

  /**
   * Ends drawing.
   *
   * @return the image
   */
  public BufferedImage image() {
    g.dispose();
    return img;
  }

  /** Pixel column of data x (the plot area spans xlo to xhi). */
  int px(double x) {
    return LEFT + (int) Math.round(pw * (x - xlo) / (xhi - xlo));
  }

  /** Pixel row of data y on an axis (lo at the bottom of the plot area, hi at the top). */
  int py(double y, Axis axis) {
    return TOP + ph - (int) Math.round(ph * (y - axis.lo()) / (axis.hi() - axis.lo()));
  }

  /**
   * Writes a chart as PNG, or warns on stderr and writes nothing when it cannot be drawn here: a
   * chart is a by-product and must never cost a run its results. Machines without fonts (a bare GPU
   * host, a slim JRE) fail inside Java's font system with errors, not exceptions.
   *
   * @param file the PNG
   * @param draw draws the chart
   * @param instead where the same numbers are, named in the warning
   * @return whether the file was written
   * @throws IOException if the drawn image cannot be written
   */
  public static boolean writeOrWarn(Path file, Supplier<BufferedImage> draw, String instead)
      throws IOException {
    BufferedImage png;
    try {
      png = draw.get();
    } catch (LinkageError | InternalError | RuntimeException e) {
      System.err.println(
          "warning: "
              + file
              + " not written, the plot could not be drawn here ("
              + e
              + "); "
              + instead
              + " hold the same numbers");
      return false;
    }
    ImageIO.write(png, "png", file.toFile());
    return true;
  }
}
