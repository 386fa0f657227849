package dev.loraort.trainer.plot;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;

class ChartTest {
  private static final Chart.Axis Y = new Chart.Axis("y", 0, 1, "%.2f", Chart.DARK_GREY);

  @Test
  void dataCoordinatesLandOnTheirPixels() throws Exception {
    // 400 x 290: plot area from x 70 to 330 (260 wide), y 40 to 240 (200 high)
    Chart c = new Chart(400, 290, -0.5, 1.5, Y, null);
    assertThat(c.px(-0.5)).isEqualTo(70);
    assertThat(c.px(1.5)).isEqualTo(330);
    assertThat(c.px(0.5)).isEqualTo(200);
    assertThat(c.py(0, Y)).isEqualTo(240);
    assertThat(c.py(1, Y)).isEqualTo(40);
    assertThat(c.py(0.25, Y)).isEqualTo(190);
    c.point(0.5, 0.25, Y, "#ff0000", 10);
    Document d = SvgDocuments.parse(c.svg());
    assertThat(d.getDocumentElement().getAttribute("width")).isEqualTo("400");
    assertThat(SvgDocuments.elements(d, "circle"))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.getAttribute("cx")).isEqualTo("200");
              assertThat(e.getAttribute("cy")).isEqualTo("190");
              assertThat(e.getAttribute("r")).isEqualTo("5.0");
              assertThat(e.getAttribute("fill")).isEqualTo("#ff0000");
            });
  }

  @Test
  void anErrorBarSpansItsRange() throws Exception {
    Chart c = new Chart(400, 290, -0.5, 1.5, Y, null);
    c.errorBar(0.5, 0.25, 0.75, Y, "#0000ff");
    List<String> lines =
        SvgDocuments.elements(SvgDocuments.parse(c.svg()), "line").stream()
            .map(
                e ->
                    String.join(
                        " ",
                        e.getAttribute("x1"),
                        e.getAttribute("y1"),
                        e.getAttribute("x2"),
                        e.getAttribute("y2")))
            .toList();
    // the bar from row 190 (0.25) up to row 90 (0.75), a cap 12 pixels wide at each end
    assertThat(lines).containsExactly("200 190 200 90", "194 190 206 190", "194 90 206 90");
  }

  @Test
  void theGridLabelsItsAxesAndTextIsEscaped() throws Exception {
    Chart.Axis right = new Chart.Axis("acc", 0, 1, "%.2f", Chart.PALETTE.get(1));
    Chart c = new Chart(400, 290, 0, 60, Y, right);
    c.grid(Chart.evenTicks(0, 60), "step <&> \"one\"");
    List<String> texts = SvgDocuments.texts(SvgDocuments.parse(c.svg()));
    assertThat(texts)
        .contains("0", "15", "60", "0.00", "0.25", "1.00", "y", "acc", "step <&> \"one\"");
    // five x ticks, five values on each of two axes, three titles
    assertThat(texts).hasSize(5 + 2 * 5 + 3);
  }

  @Test
  void aLineJoinsItsPointsAndMarksEach() throws Exception {
    Chart c = new Chart(400, 290, -0.5, 1.5, Y, null);
    c.line(
        List.of(new double[] {-0.5, 0}, new double[] {0.5, 0.25}, new double[] {1.5, 1}),
        Y,
        "#00ff00",
        1.5f);
    Document d = SvgDocuments.parse(c.svg());
    assertThat(SvgDocuments.elements(d, "polyline"))
        .singleElement()
        .satisfies(e -> assertThat(e.getAttribute("points")).isEqualTo("70,240 200,190 330,40"));
    assertThat(SvgDocuments.elements(d, "circle")).hasSize(3);
  }

  @Test
  void numbersAreWrittenTheSameInEveryLocale() throws Exception {
    Locale before = Locale.getDefault();
    Locale.setDefault(Locale.GERMANY);
    try {
      Chart c = new Chart(400, 290, 0, 60, Y, null);
      c.grid(Chart.evenTicks(0, 60), "step");
      c.line(List.of(new double[] {0, 0.5}, new double[] {60, 0.75}), Y, "#00ff00", 2.5f);
      Document d = SvgDocuments.parse(c.svg());
      assertThat(SvgDocuments.texts(d)).contains("0.25", "0.75");
      assertThat(SvgDocuments.elements(d, "polyline").get(0).getAttribute("stroke-width"))
          .isEqualTo("2.5");
    } finally {
      Locale.setDefault(before);
    }
  }

  @Test
  void nonFiniteValuesAndBadColoursAreRefused() {
    Chart c = new Chart(400, 290, -0.5, 1.5, Y, null);
    assertThatThrownBy(() -> c.point(0.5, Double.NaN, Y, "#ff0000", 4))
        .hasMessageContaining("chart: y value NaN is not finite");
    assertThatThrownBy(() -> c.point(0.5, 0.5, Y, "red\" onload=\"x", 4))
        .hasMessageContaining("is not #rrggbb");
    assertThatThrownBy(() -> new Chart.Axis("loss", 0, Double.POSITIVE_INFINITY, "%.2f", "#000000"))
        .hasMessageContaining("loss: needs finite lo < hi");
  }

  @Test
  void evenTicksAndBadRanges() {
    assertThat(Chart.evenTicks(0, 60).stream().map(Chart.Tick::label).toList())
        .isEqualTo(List.of("0", "15", "30", "45", "60"));
    assertThatThrownBy(() -> new Chart.Axis("acc", 1, 1, "%.2f", "#000000"))
        .hasMessageContaining("acc: needs finite lo < hi, got [1.0, 1.0]");
  }
}
