// Shorten a label to a width, with an ellipsis. Widths are estimated (wide characters such as
// Chinese count one em, others about half), which avoids measuring text in the DOM for each node.

function charWidth(char: string, fontSize: number): number {
  return /[\u1100-\uffff]/.test(char) ? fontSize : fontSize * 0.58;
}

export function fitText(text: string, width: number, fontSize: number): string {
  let used = 0;
  const chars = [...text];
  for (let i = 0; i < chars.length; i += 1) {
    used += charWidth(chars[i], fontSize);
    if (used > width) {
      let cut = i;
      let room = used;
      while (cut > 0 && room + fontSize > width) room -= charWidth(chars[--cut], fontSize);
      return `${chars.slice(0, cut).join("")}…`;
    }
  }
  return text;
}
