package dev.loraort.trainer.plot;

import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import org.xml.sax.InputSource;
import org.xml.sax.SAXException;

/** Charts read back as XML: a test fails on a document that is not well-formed. */
public final class SvgDocuments {
  private SvgDocuments() {}

  /**
   * @param svg the document's text
   * @return the parsed document
   */
  public static Document parse(String svg)
      throws IOException, SAXException, ParserConfigurationException {
    return DocumentBuilderFactory.newInstance()
        .newDocumentBuilder()
        .parse(new InputSource(new StringReader(svg)));
  }

  /**
   * @param file an .svg file
   * @return the parsed document
   */
  public static Document read(Path file)
      throws IOException, SAXException, ParserConfigurationException {
    return parse(Files.readString(file));
  }

  /**
   * @param d a document
   * @param tag an element name
   * @return its elements of that name, in document order
   */
  public static List<Element> elements(Document d, String tag) {
    NodeList n = d.getElementsByTagName(tag);
    List<Element> out = new ArrayList<>();
    for (int i = 0; i < n.getLength(); i++) {
      out.add((Element) n.item(i));
    }
    return out;
  }

  /**
   * @param d a document
   * @return the text of its {@code text} elements, in document order
   */
  public static List<String> texts(Document d) {
    return elements(d, "text").stream().map(Element::getTextContent).toList();
  }
}
