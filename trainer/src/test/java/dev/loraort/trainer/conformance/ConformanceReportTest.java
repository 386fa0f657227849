package dev.loraort.trainer.conformance;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Element;

class ConformanceReportTest {
  private static final ConformanceReport DIVERGING =
      new ConformanceReport(
          List.of(
              new ConformanceReport.StepDiff(1, 1.0, 1.0, 0, Double.NaN),
              new ConformanceReport.StepDiff(2, 0.9, 0.8, 0.125, Double.NaN)),
          List.of(new ConformanceReport.TensorDiff("a<&>\"b", 2e-4)),
          1e-5,
          1e-4);

  @Test
  void jsonCarriesTheVerdictAndEveryStep() {
    JsonObject o = JsonParser.parseString(DIVERGING.toJson()).getAsJsonObject();
    assertThat(o.get("conforms").getAsBoolean()).isFalse();
    assertThat(o.get("first_divergence").getAsLong()).isEqualTo(2);
    assertThat(o.getAsJsonArray("steps")).hasSize(2);
    assertThat(o.getAsJsonArray("tensors").get(0).getAsJsonObject().get("name").getAsString())
        .isEqualTo("a<&>\"b");
  }

  @Test
  void junitXmlParsesAndFailsTheCasesOverTolerance() throws Exception {
    String xml = DIVERGING.toJUnitXml("lora & co");
    Element suite =
        DocumentBuilderFactory.newInstance()
            .newDocumentBuilder()
            .parse(new ByteArrayInputStream(xml.getBytes(StandardCharsets.UTF_8)))
            .getDocumentElement();
    assertThat(suite.getAttribute("name")).isEqualTo("lora & co");
    assertThat(suite.getAttribute("tests")).isEqualTo("3");
    assertThat(suite.getAttribute("failures")).isEqualTo("2"); // step 2 and the tensor
    assertThat(suite.getElementsByTagName("failure").getLength()).isEqualTo(2);
  }
}
