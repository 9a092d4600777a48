const fs=require("fs");const dir=process.argv[2];const f=fs.readdirSync(dir).filter(f=>f.endsWith(".cpuprofile")).sort((a,b)=>fs.statSync(dir+"/"+b).size-fs.statSync(dir+"/"+a).size)[0];const p=JSON.parse(fs.readFileSync(dir+"/"+f));
const byId=new Map(p.nodes.map(n=>[n.id,n]));const parent=new Map();for(const n of p.nodes)for(const c of n.children||[])parent.set(c,n.id);
const self=new Map();for(let i=0;i<p.samples.length;i++)self.set(p.samples[i],(self.get(p.samples[i])||0)+(p.timeDeltas[i]||0));
const incl={};
for(const [id,t] of self){const seen=new Set();let cur=id;while(cur!==undefined){const n=byId.get(cur);const k=n.callFrame.functionName+" "+n.callFrame.url.split("/").slice(-2).join("/")+":"+n.callFrame.lineNumber;if(!seen.has(k)){seen.add(k);incl[k]=(incl[k]||0)+t}cur=parent.get(cur)}}
console.log(Object.entries(incl).sort((a,b)=>b[1]-a[1]).slice(0,Number(process.argv[3]||40)).map(([k,v])=>(v/1000).toFixed(0)+"ms "+k).join("\n"))
