// Auto-layout, zoom and fit of the canvas.
import { layoutModel } from "@/definition/layout";
import { applyPositions, readModel } from "./model";
import type { GraphRef } from "./useGraph";

/** Fit now and again once the page around the canvas has its final size (panels fill in late). */
export function fitWhenSettled(graph: GraphRef): void {
  const fit = () => graph.value?.zoomToFit({ padding: 40, maxScale: 1 });
  fit();
  setTimeout(fit, 200);
}

export function useLayout(graph: GraphRef): {
  autoLayout: () => void;
  zoomBy: (delta: number) => void;
  fit: () => void;
} {
  function fit(): void {
    graph.value?.zoomToFit({ padding: 40, maxScale: 1 });
  }

  function autoLayout(): void {
    const current = graph.value;
    if (!current) return;
    const model = readModel(current);
    layoutModel(model);
    applyPositions(current, model);
    fit();
  }

  function zoomBy(delta: number): void {
    graph.value?.zoom(delta, { minScale: 0.2, maxScale: 2 });
  }

  return { autoLayout, zoomBy, fit };
}
